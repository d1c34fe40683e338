"""Drawing helpers shared by the figure modules (private)."""

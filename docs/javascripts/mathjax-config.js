// MathJax 3 configuration for pymdownx.arithmatex (generic mode). MathJax itself is served
// with the site (docs/javascripts/mathjax/tex-svg.js, SVG output with built-in fonts), so the
// formulas render offline: nothing is loaded from a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    enableMenu: false,
  },
  svg: { fontCache: "global" },
};

if (typeof document$ !== "undefined") {
  // mkdocs-material's instant navigation: typeset each page it swaps in.
  document$.subscribe(() => {
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      MathJax.typesetPromise();
    }
  });
}

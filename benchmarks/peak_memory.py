"""Peak memory (max RSS) of LAM against n_steps and internal_batch_size.

Each configuration runs in a fresh process, so the numbers do not mix:

    python benchmarks/peak_memory.py            # prints a Markdown table
"""

import subprocess
import sys

CHILD = """
import resource, sys, torch
from captum_lam import LAM, zoo
torch.set_num_threads(2)
name, crop = sys.argv[1], sys.argv[5]
side, steps, batch = (int(v) for v in sys.argv[2:5])
model = zoo.load(name)
lr = torch.rand(1, 3, side, side)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
LAM(model).attribute(lr, target=(side * 2, side * 2, 16), n_steps=steps,
                     internal_batch_size=batch, reach=None if crop == "none" else crop)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before / 1024, after / 1024)
"""

CONFIGS = [
    ("plain-d8", 128, 50, 10, "none"),
    ("plain-d8", 128, 200, 10, "none"),
    ("plain-d8", 128, 200, 50, "none"),
    ("plain-d8", 512, 20, 4, "none"),
    ("plain-d8", 512, 20, 20, "none"),
    ("plain-d8", 512, 200, 4, "auto"),
    ("span-x4-ch48", 128, 50, 10, "none"),
    ("span-x4-ch48", 128, 200, 10, "none"),
]


def main() -> None:
    print("| model | LR | n_steps | internal_batch_size | crop | peak RSS (MB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, side, steps, batch, crop in CONFIGS:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                name,
                str(side),
                str(steps),
                str(batch),
                crop,
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            peak = "failed: " + out.stderr.strip().splitlines()[-1]
        else:
            peak = f"{float(out.stdout.split()[1]):.0f}"
        print(f"| {name} | {side}x{side} | {steps} | {batch} | {crop} | {peak} |")


if __name__ == "__main__":
    main()

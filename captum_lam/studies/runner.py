"""The study runner: evaluate many models on many cases, resumably, sharded."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .._method.checks import parse_device
from .._registry import model_scale
from ..images import crop_to_multiple, ssim_y
from ..images._degradation import degrade, describe, psnr_summary, task
from ..metrics import diffusion_index, mass_area, mean_distance
from ..multiwindow import attribute_windows
from ..settings import LAMSettings
from ..windows import window_region
from ._cem_records import cem_fields, cem_options
from ._identity import (
    check_identity,
    file_identity,
    image_digest,
    model_digest,
)
from ._store import ResultsFileInUse, repair_tail, results_lock
from .cases import Case, classify_content, load_image
from .records import (
    PathLike,
    merge_rank_files,
    rank_files,
    rank_path,
    read_records,
    to_plain,
)

# --- evaluation ----------------------------------------------------------------


def torchrun_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment variables; (0, 1) without."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return 0, 1


def evaluate(
    models: Union[Sequence[str], Mapping[str, Any], None],
    cases: Sequence[Case],
    *,
    images: Optional[Mapping[str, Tensor]] = None,
    n_steps: int = 50,
    method: str = "riemann_right",
    sigma: float = 1.2,
    kernel_size: int = 9,
    detector: str = "difference",
    internal_batch_size: Optional[int] = None,
    tolerance: Optional[float] = None,
    settings: Optional[LAMSettings] = None,
    reach: Union[None, str, int] = "auto",
    device: Union[str, torch.device] = "cpu",
    out: Optional[PathLike] = None,
    progress: bool = False,
    load_model: Optional[Callable[[str], nn.Module]] = None,
    on_record: Optional[Callable[[dict], None]] = None,
    save_maps: Optional[PathLike] = None,
    cem: Union[bool, Mapping[str, Any], None] = None,
    on_plan: Optional[Callable[[int, int], None]] = None,
) -> list[dict[str, Any]]:
    """LAM of every (model, image, window) case: DI, its companions, PSNR, timing.

    Cases with ``model=None`` are evaluated for every model; the others for their
    own model only. Cases of one (model, image) share one pass over the path
    ([`attribute_windows`][captum_lam.attribute_windows]).

    Each window is explained on the input ``captum-lam explain`` gives it
    ([`window_region`][captum_lam.windows.window_region]: the 256-pixel HR
    region around it when the image is larger, else the whole image), so a
    record's DI is ``explain``'s for the same window and settings.

    Each record is a plain dict: ``key``, ``model``, ``image``, ``top``,
    ``left``, ``size`` (the window, image pixels), ``scale``, ``hr_height``,
    ``hr_width`` (the image), ``lr_height``, ``lr_width`` (the window's LR
    input, which the DI depends on), ``region_top``, ``region_left`` (where
    that input starts in the image, HR pixels), ``content``,
    ``gradient_energy``, ``coherence``, ``di``,
    ``mass_area_50``, ``mass_area_90``, ``mean_distance`` (LR pixels),
    ``objective_change``, ``delta``, ``relative_delta``, ``psnr_y``,
    ``ssim_y``, ``bicubic_psnr_y`` (``degraded_psnr_y`` and ``task``
    "denoising" for a scale-1 model, whose input is the JPEG-degraded image) (of
    the whole image, Y channel, ``scale`` pixels shaved), ``receptive_field``,
    ``parameters``, the settings (``n_steps``, ``method``, ``sigma``,
    ``kernel_size``, ``detector``, ``tolerance``), ``n_steps_used`` and
    ``estimated_map_error`` (with ``n_steps="auto"``: the window's estimated
    relative map error) and the
    timing (``seconds``: the window's LAM time; windows that share one input
    share its passes, and then it is their time divided by their number,
    ``group_seconds`` and ``group_windows`` the shared time and count).
    Undefined values (DI of an all-zero map) are None.

    Resumable: with ``out``, cases whose key is in the file already are
    skipped, and each finished case is appended and flushed at once; the file
    is rewritten at the end in case order, without duplicates. A cut-off last
    line (a killed process) is dropped and its case computed again; a last
    record missing only its newline is kept. A file that is not a results file
    (JSON objects with a ``"key"``, one per line) is refused and left unchanged.
    While it runs, ``evaluate`` holds an exclusive lock on ``out``
    (``fcntl.flock``); a second run on the same file raises
    ``ResultsFileInUse`` before it reads or writes anything.

    Sharded: started by ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set), every
    process joins a gloo process group, takes the cases ``i % world_size ==
    rank``, appends to ``out.rankR.jsonl``, waits at a barrier; rank 0 merges
    everything into ``out``. Every rank returns all the records.

    Parameters
    ----------
    models : sequence of names, mapping of name -> model, or None
        Names are loaded with ``load_model`` (default [`load`][captum_lam.zoo.load]);
        None: the models the cases name.
    cases : sequence of Case
        From [`select_cases`][captum_lam.studies.select_cases] or
        [`read_cases`][captum_lam.studies.read_cases].
    images : mapping of name -> Tensor, optional
        HR images by `Case.image`; missing ones are loaded with
        `load_image`. Cropped to a multiple of the scale.
    n_steps, method, sigma, kernel_size, detector, internal_batch_size, tolerance
        LAM's settings (defaults: the reference's; ``n_steps="auto"`` refines
        each image's windows until ``tolerance``).
    settings : LAMSettings, optional
        All of them at once; when given, it replaces the seven arguments above.
    reach : None, "auto" or int
        See [`attribute_windows`][captum_lam.attribute_windows] (exact speed-up
        for models with a known finite receptive field).
    out : path, optional
        JSON Lines file of the records (resumable).
    progress : bool
        A tqdm bar over the cases (rank 0 only).
    save_maps : str or PathLike, optional
        Folder (created) for one raw map per case, named by its key (see
        [`save_map`][captum_lam.save_map]); the record's ``map`` gives the file.
    on_record : callable, optional
        Called with every new record once it is written.
    cem : bool or mapping, optional
        Also the [Causal Effect Map][captum_lam.CausalEffectMap] of every
        window, against the HR image, with the same ``reach``: True for the
        authors' settings, or a mapping of its options (``block_size``,
        ``n_coarse``, ``n_fine``, ``threshold_db``, ``batch_size``, ``seed``).
        The record gains ``cem_`` + every
        [`signed_spread`][captum_lam.metrics.signed_spread] measure
        (``cem_positive_db``, ``cem_negative_db``, ``cem_positive_area``,
        ``cem_negative_area``, ``cem_negative_fraction``,
        ``cem_beyond_window_fraction``, ``cem_di``, ``cem_mass_area_50/90``,
        ``cem_mean_distance``), its settings (``cem_block_size``,
        ``cem_n_coarse``, ``cem_n_fine``, ``cem_threshold_db``, ``cem_seed``) and
        cost (``cem_forward_passes``, ``cem_fine_blocks``, ``cem_seconds``).
        Thousands of forward passes per window.
    on_plan : callable, optional
        Called once before any work with ``(already, total)``: how many of
        this process's cases ``out`` holds already (a resumed run) and how many
        it has in all.

    Returns
    -------
    list of dict
        One record per case, in case order (models outer, cases inner).
    """
    if not cases:
        raise ValueError("cases must hold at least one Case")
    cem_settings = cem_options(cem)
    lam = settings or LAMSettings(
        sigma, kernel_size, detector, n_steps, method, internal_batch_size, tolerance
    )
    expected = file_identity(lam.record())
    if models is None:
        names = list(dict.fromkeys(c.model for c in cases if c.model is not None))
        if len(names) == 0 or any(c.model is None for c in cases):
            raise ValueError("models is required when a case names no model")
        given: dict[str, Any] = {}
    elif isinstance(models, Mapping):
        names, given = list(models), dict(models)
    else:
        names, given = list(models), {}
    if not names:
        raise ValueError("models must name at least one model")
    unknown = sorted({c.model for c in cases if c.model and c.model not in names})
    if unknown:
        raise ValueError(
            f"cases name models that are not in the study: {', '.join(unknown)}"
        )
    jobs = [(m, c) for m in names for c in cases if c.model in (None, m)]
    keys = [c.key(m) for m, c in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("cases repeat: each (model, image, window) must appear once")
    order = {k: i for i, k in enumerate(keys)}

    device = parse_device(device)
    rank, world = torchrun_rank()
    group_owner = False
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
            group_owner = True
    out_path = None if out is None else Path(out)
    with ExitStack() as held:
        if out_path is not None:
            refusal = _hold_results(out_path, rank, world, held)
            if refusal is not None:
                if group_owner:
                    dist.destroy_process_group()
                raise refusal
        own_file = None
        done: dict[str, dict] = {}
        store = _Store(given, load_model, images, device)
        image_names = list(dict.fromkeys(c.image for c in cases))
        if out_path is not None:
            own_file = out_path if world == 1 else rank_path(out_path, rank)
            own = read_records(own_file)  # recognised before anything changes
            store.check(own, expected, names, image_names)
            repair_tail(own)
        if world > 1:
            dist.barrier()  # every rank file repaired before anybody reads them
        if out_path is not None:
            for source in dict.fromkeys([out_path, *rank_files(out_path)]):
                found = read_records(source)
                store.check(found, expected, names, image_names)
                for r in found.records:
                    done.setdefault(r["key"], r)
        if world > 1:
            dist.barrier()  # nobody appends before everybody has read

        mine = [i for i in range(len(jobs)) if i % world == rank]
        pending = [i for i in mine if keys[i] not in done]
        if on_plan is not None:
            on_plan(len(mine) - len(pending), len(mine))
        computed = _run_jobs(
            jobs,
            keys,
            pending,
            store,
            lam,
            reach,
            device,
            own_file,
            progress and rank == 0,
            on_record,
            None if save_maps is None else Path(save_maps),
            cem_settings,
        )

        if world > 1:
            if out_path is not None:
                dist.barrier()
                if rank == 0:
                    merge_rank_files(out_path, order, rank_files(out_path))
                dist.barrier()
                everything = {r["key"]: r for r in read_records(out_path).records}
            else:
                gathered: list[Any] = [None] * world
                dist.all_gather_object(gathered, computed)
                everything = {r["key"]: r for part in gathered for r in part}
            if group_owner:
                dist.destroy_process_group()
        elif out_path is not None:
            merged = merge_rank_files(out_path, order, rank_files(out_path))
            everything = {r["key"]: r for r in merged}
        else:
            everything = {r["key"]: r for r in computed}
    return [everything[k] for k in keys if k in everything]


def _hold_results(
    out: Path, rank: int, world: int, held: ExitStack
) -> Optional[Exception]:
    """Rank 0 locks ``out`` for the whole run; every rank learns if it could not.

    Returns the refusal (another run holds the file, or it is a folder or a
    special file) for every rank to raise, or None.
    """
    refusal: Optional[Exception] = None
    if rank == 0:
        try:
            held.enter_context(results_lock(out))
        except (ResultsFileInUse, ValueError) as error:
            refusal = error
    if world > 1:
        import torch.distributed as dist

        shared = [refusal]
        dist.broadcast_object_list(shared, src=0)
        refusal = shared[0]
    return refusal


class _Store:
    """The run's models and images, loaded when first needed, with the identity
    (`captum_lam.studies._identity`) of each."""

    def __init__(
        self,
        given: Mapping[str, Any],
        load_model: Optional[Callable[[str], nn.Module]],
        images: Optional[Mapping[str, Tensor]],
        device: torch.device,
    ) -> None:
        self.given, self.load_model, self.images = given, load_model, images
        self.device = device
        self.loaded: dict[str, Any] = {}  # one model in memory at a time
        self.hr: dict[str, Tensor] = {}
        self.model_fields: dict[str, dict[str, Any]] = {}
        self.image_fields: dict[str, dict[str, Any]] = {}

    def model(self, name: str) -> Any:
        if name not in self.loaded:
            self.loaded.clear()
            model = self.given.get(name)
            if model is None:
                if self.load_model is None:
                    from .. import zoo

                    self.load_model = zoo.load
                model = self.load_model(name)
            model = model.to(self.device).eval()
            self.loaded[name] = model
            if name not in self.model_fields:
                scale = model_scale(model, 3, self.device)
                self.model_fields[name] = {
                    "model_digest": model_digest(model),
                    "degradation": describe(scale, name),
                }
        return self.loaded[name]

    def image(self, name: str) -> Tensor:
        if name not in self.hr:
            source = self.images.get(name) if self.images is not None else None
            self.hr[name] = load_image(name) if source is None else source
            self.image_fields[name] = {"image_digest": image_digest(self.hr[name])}
        return self.hr[name]

    def identity(self, model: str, image: str) -> dict[str, Any]:
        """The record fields that say what decided its numbers."""
        return {**self.model_fields[model], **self.image_fields[image]}

    def check(
        self,
        found: Any,
        expected: Mapping[str, Any],
        names: Sequence[str],
        image_names: Sequence[str],
    ) -> None:
        """Refuse a results file whose records this run would compute otherwise
        (its models ``names`` and images ``image_names`` are loaded to know)."""
        pairs = [
            (r, f"{found.path}:{line}") for r, line in zip(found.records, found.lines)
        ]
        for record, _ in pairs:  # the identity of what the file and the run share
            if record["model"] in names and record["model"] not in self.model_fields:
                self.model(record["model"])
        for record, _ in pairs:
            if record["image"] in image_names and record["image"] not in self.hr:
                self.image(record["image"])
        check_identity(pairs, expected, self.model_fields, self.image_fields)


def _run_jobs(
    jobs: Sequence[tuple[str, Case]],
    keys: Sequence[str],
    pending: Sequence[int],
    store: _Store,
    settings: LAMSettings,
    reach: Union[None, str, int],
    device: torch.device,
    own_file: Optional[Path],
    progress: bool,
    on_record: Optional[Callable[[dict], None]],
    save_maps: Optional[Path] = None,
    cem: Optional[Mapping[str, Any]] = None,
) -> list[dict]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i in pending:
        model_name, case = jobs[i]
        groups.setdefault((model_name, case.image), []).append(i)
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc="cases", unit="case", leave=False)
    records: list[dict] = []
    handle = open(own_file, "a") if own_file is not None else None  # noqa: SIM115
    try:
        for (model_name, image_name), members in groups.items():
            model = store.model(model_name)
            image = store.image(image_name)
            for record in _evaluate_group(
                model,
                model_name,
                image_name,
                image,
                [(keys[i], jobs[i][1].window) for i in members],
                settings,
                reach,
                device,
                save_maps,
                cem,
                store.identity(model_name, image_name),
            ):
                if handle is not None:
                    handle.write(json.dumps(record, allow_nan=False) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                records.append(record)
                if on_record is not None:
                    on_record(record)
                if bar is not None:
                    bar.update(1)
    finally:
        if handle is not None:
            handle.close()
        if bar is not None:
            bar.close()
    return records


def _evaluate_group(
    model: Any,
    model_name: str,
    image_name: str,
    image: Tensor,
    windows: Sequence[tuple[str, tuple[int, int, int]]],
    settings: LAMSettings,
    reach: Union[None, str, int],
    device: torch.device,
    save_maps: Optional[Path] = None,
    cem: Optional[Mapping[str, Any]] = None,
    identity: Optional[Mapping[str, Any]] = None,
) -> list[dict]:
    """Records of the windows of one (model, image); ``identity``: the fields
    that say what decided the numbers (`captum_lam.studies._identity`)."""
    scale = model_scale(model, image.shape[1], device)
    hr = crop_to_multiple(image.to(device=device, dtype=torch.float32), scale)
    lr = degrade(hr, scale, model_name)  # JPEG for a scale-1 denoiser
    with torch.no_grad():
        sr = model(lr)
    if tuple(sr.shape[-2:]) != tuple(hr.shape[-2:]):
        raise ValueError(
            f"{model_name} maps {tuple(lr.shape[-2:])} to {tuple(sr.shape[-2:])}, "
            f"not to the HR size {tuple(hr.shape[-2:])}"
        )
    # the baseline: bicubic, or the degraded input itself at scale 1
    psnrs = psnr_summary(sr, lr, hr, scale)
    image_stats = {
        "psnr_y": psnrs.pop("psnr_y"),
        "ssim_y": ssim_y(sr.cpu(), hr.cpu(), shave=scale),
        **psnrs,
        "task": task(scale),
    }
    info = getattr(model, "lam_info", None)
    h, w = int(hr.shape[-2]), int(hr.shape[-1])
    regions = [window_region(window, h, w, scale) for _, window in windows]
    if all(region == (0, 0, h, w) for region in regions):
        # every window sees the whole image: one pass over the path for all
        inputs = [(lr, [window for _, window in windows])]
    else:  # each window its own region, as explain explains it
        inputs = []
        for (_, window), (r0, c0, rh, rw) in zip(windows, regions):
            region_lr = degrade(hr[..., r0 : r0 + rh, c0 : c0 + rw], scale, model_name)
            inputs.append((region_lr, [(window[0] - r0, window[1] - c0, window[2])]))
    maps = []  # per window: map, delta, LR input, steps used, estimate, seconds
    for one_lr, local_windows in inputs:
        started = time.perf_counter()
        attr, delta, integration = attribute_windows(
            model,
            one_lr,
            local_windows,
            **settings.record(),
            return_convergence_delta=True,
            reach=reach,
            return_integration=True,
        )
        seconds = time.perf_counter() - started
        estimates = integration.estimated_error
        for k in range(len(local_windows)):
            maps.append(
                (
                    attr[k].detach().cpu(),
                    float(delta[k]),
                    one_lr,
                    integration.n_steps,
                    None if estimates is None else float(estimates[k]),
                    seconds / len(local_windows),
                    seconds,
                    len(local_windows),
                )
            )
    records = []
    for k, (key, window) in enumerate(windows):
        content, energy, coherence = classify_content(hr.cpu(), window)
        one, delta_k, one_lr, steps_used, estimate, seconds, group, shared = maps[k]
        r0, c0, rh, rw = regions[k]
        local = (window[0] - r0, window[1] - c0, window[2])
        nonzero = bool((one.sum(dim=0) != 0).any())
        change = float(one.double().sum()) - delta_k
        record: dict[str, Any] = {
            "key": key,
            "model": model_name,
            "image": image_name,
            "top": window[0],
            "left": window[1],
            "size": window[2],
            "scale": scale,
            "hr_height": h,
            "hr_width": w,
            "lr_height": int(one_lr.shape[-2]),
            "lr_width": int(one_lr.shape[-1]),
            "region_top": r0,
            "region_left": c0,
            "content": content,
            "gradient_energy": energy,
            "coherence": coherence,
            "di": float(diffusion_index(one)) if nonzero else None,
            "mass_area_50": int(mass_area(one, 0.5)) if nonzero else None,
            "mass_area_90": int(mass_area(one, 0.9)) if nonzero else None,
            "mean_distance": float(mean_distance(one, local, scale))
            if nonzero
            else None,
            "objective_change": change,
            "delta": delta_k,
            "relative_delta": abs(delta_k) / abs(change) if change else None,
            **image_stats,
            "receptive_field": getattr(info, "receptive_field", None),
            "parameters": getattr(info, "parameters", None),
            **file_identity(settings.record()),
            **(identity or {}),
            "n_steps_used": steps_used,
            "estimated_map_error": estimate,
            "seconds": seconds,
            "group_seconds": group,
            "group_windows": shared,
        }
        if cem is not None:
            region_hr = hr[..., r0 : r0 + rh, c0 : c0 + rw]
            record.update(
                cem_fields(model, one_lr, region_hr, local, scale, cem, reach)
            )
        if save_maps is not None:
            from ..mapfile import map_file_name, save_map

            save_maps.mkdir(parents=True, exist_ok=True)
            record["map"] = str(
                save_map(
                    save_maps / map_file_name(key),
                    one,
                    one_lr[0].cpu(),
                    window,
                    scale=scale,
                    origin=(r0, c0),
                    settings={
                        **settings.record(),
                        "model": model_name,
                        "image": image_name,
                    },
                    convergence_delta=delta_k,
                )
            )
        records.append({k: to_plain(v) for k, v in record.items()})
    return records

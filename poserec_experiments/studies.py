"""The paper's ablation studies: variants, levels, training budget and the paper's reported direction.

Every variant is PoseRec with a few configuration overrides (``Variant.config``) and, for the frames
and items studies, a derived dataset (``Variant.dataset``; see :mod:`poserec_experiments.derived_datasets`).
All variants of a study share one training budget (:class:`Budget`): ``epochs`` (the maximum),
``stopping_step`` (early stopping patience, in validations), ``eval_step`` (validate every that many
epochs) and ``learning_rate``; the test metrics are those of the checkpoint with the best validation
NDCG@10. The defaults below are sized for a 2-core CPU machine (the same learning rate as the Table 1
benchmark, ``properties/benchmark.yaml``; the paper's 1e-4 needs many more epochs) and can be overridden
on the command line (``--epochs``, ``--stopping-step``, ``--eval-step``, ``--set learning_rate=...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FACTOR_FIELDS = ("f_name", "f_usage", "f_size", "f_shape", "f_color", "f_material", "f_style", "f_pattern",
                 "f_description")
DEFAULT_SEEDS = (2022, 2023, 2024)


@dataclass(frozen=True)
class Budget:
    """Training budget shared by every variant of a study."""

    epochs: int
    stopping_step: int
    eval_step: int = 1
    learning_rate: float = 1e-3

    def config(self) -> dict:
        return {"epochs": self.epochs, "stopping_step": self.stopping_step, "eval_step": self.eval_step,
                "learning_rate": self.learning_rate}


DEFAULT_BUDGET = Budget(epochs=6, stopping_step=3)


@dataclass(frozen=True)
class DerivedDataset:
    """A dataset derived from the raw data: ``kind`` "window" (value = T frames) or "items" (value = % kept)."""

    kind: str
    value: int


@dataclass(frozen=True)
class Variant:
    """One row of a study: PoseRec ``config`` overrides, optionally on a derived dataset.

    ``x`` / ``series`` place the variant in a line plot (e.g. x = K, series = "w L_pro").
    """

    name: str
    config: dict = field(default_factory=dict)
    dataset: DerivedDataset | None = None
    x: float | None = None
    series: str = ""


@dataclass(frozen=True)
class Study:
    """An ablation study of the paper."""

    name: str
    title: str
    paper_ref: str
    direction: str  # the paper's reported finding, quoted
    variants: tuple[Variant, ...]
    levels: tuple[str, ...] = ("ins",)
    base: str = ""  # the variant that is PoseRec as configured (run with --base-seeds seeds)
    budget: Budget = DEFAULT_BUDGET
    plot_metrics: tuple[str, ...] = ("recall@5", "ndcg@5")
    x_label: str = ""
    reference: str | None = None  # variant drawn as a red line in a bar plot (Fig. 4)
    relative_time_to: str | None = None  # variant whose step time is 1 (Table 5's "Time" column)
    requires_keys: tuple[str, ...] = ()  # PoseRec config keys the study needs (checked in PoseRec.yaml)
    notes: tuple[str, ...] = ()

    @property
    def plot_kind(self) -> str:
        return "lines" if all(v.x is not None for v in self.variants) else "bars"

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"study {self.name} has no variant {name!r}; it has {[v.name for v in self.variants]}")


def _triplet() -> Study:
    mining = [
        ("pose_threshold", {"mining": "pose_threshold", "mining_threshold": 0.5}, "pose_threshold p=0.5"),
        ("pose_fraction", {"mining": "pose_fraction", "mining_fraction": 0.5}, "pose_fraction 0.5"),
        ("random", {"mining": "random"}, "random"),
        ("hard", {"mining": "hard"}, "hard"),
    ]
    variants = [Variant("w/o L_triple", {"triplet_weight": 0.0})]
    variants += [Variant(f"w L_triple ({label})", {"triplet_weight": 1.0, **config}) for _, config, label in mining]
    return Study(
        name="triplet",
        title="Pose-aware transductive hard-negative mining (L_triple) and mining variants",
        paper_ref="Table 2 and the complexity analysis of the supplementary material",
        direction=("\"without L_triple, the performance of the model significantly drops\" (Table 2, both levels); "
                   "\"selecting negative samples from dissimilar videos avoid the risk of adding false negative "
                   "samples into mining\" (Method); pose-aware mining is claimed to be \"much more efficient than "
                   "traditional hard negative mining\" (mining space 2c instead of 2bc - c)."),
        variants=tuple(variants),
        base="w L_triple (pose_threshold p=0.5)",
        levels=("ins", "cat"),
        plot_metrics=("recall@10", "ndcg@10"),
        notes=("`w/o L_triple` sets `triplet_weight: 0` (the mining is then not used for the loss); the "
               "other rows keep `triplet_weight: 1` and change `mining`.",
               "Step time = mean wall seconds of one training batch inside RecBole's `_train_epoch` (data "
               "loading, negative sampling, mining, forward, backward, optimiser step), over all epochs run.",
               "In this plug-in every mining strategy is the same batched mask algebra "
               "(`recbole_poserec/model/mining.py`: a (U, U) donor mask and a (U, N) candidate mask per batch); "
               "the pose-aware ones add a (U, U) cosine similarity. The paper's complexity claim is about the "
               "size of the searched space, which such an implementation does not pay for per candidate, so "
               "the step times are expected to differ little."),
    )


def _prototypes() -> Study:
    variants = tuple(
        Variant(f"K={k} {'w' if weight else 'w/o'} L_pro", {"num_prototypes": k, "embedding_size": 256,
                                                              "prototype_weight": float(weight)},
                x=k, series="w L_pro" if weight else "w/o L_pro")
        for k in (1, 2, 4, 8) for weight in (1, 0)
    )
    return Study(
        name="prototypes",
        title="Number of prototypes K, with and without L_pro (K x d = 256)",
        paper_ref="Fig. 3",
        direction=("\"using L_pro helps the model improve the recommendation performance in all cases except "
                   "when K = 1\"; \"with the increase of K, the model's performance is increased too\"; "
                   "\"K shouldn't be too large, otherwise, it would be suffered from over-fitting\" (Fig. 3)."),
        variants=variants,
        base="K=4 w L_pro",
        x_label="number of prototypes K",
    )


def _frames() -> Study:
    return Study(
        name="frames",
        title="Frames per window T (10, 25, 50)",
        paper_ref="Table 5",
        direction=("\"More frames may provide more information. But meanwhile, it takes more time and needs a "
                   "more complicated network to deal with more frames. Thus we balance the two aspects and set "
                   "the number of frames as 10.\" (Table 5; its Time column is relative to T = 10)"),
        variants=tuple(Variant(f"T={t}", {}, DerivedDataset("window", t), x=t) for t in (10, 25, 50)),
        base="T=10",
        plot_metrics=("recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        x_label="frames per window T",
        relative_time_to="T=10",
        notes=("Datasets: the same raw data converted with window T and the default step 5 (the step is not "
               "scaled, so every T has about the same number of windows and the same video split; windows "
               "of larger T overlap more). T = 10 with step 5 is the base dataset itself.",
               "Time (rel.) = the variant's mean training step time / T=10's (Table 5's Time column is "
               "relative to T = 10; the paper does not say what it timed)."),
    )


def _layers() -> Study:
    return Study(
        name="layers",
        title="Graph-convolution layers L (1-4)",
        paper_ref="Table 6 / Fig. 6",
        direction=("\"L shouldn't be too small nor too large. When it is too small, the network can not learn "
                   "high level features; when it is too large, it is easy to cause over-fitting. Setting L as 3 "
                   "is the best choice.\" (Fig. 6, Ins Rec and Cat Rec)"),
        variants=tuple(Variant(f"L={n}", {"gcn_layers": n}, x=n) for n in (1, 2, 3, 4)),
        base="L=3",
        levels=("ins", "cat"),
        plot_metrics=("recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        x_label="graph-convolution layers L",
    )


def _factors() -> Study:
    variants = [Variant("none removed", {"item_factor_fields": list(FACTOR_FIELDS)})]
    variants += [Variant(f"-{f[2:]}", {"item_factor_fields": [g for g in FACTOR_FIELDS if g != f]})
                 for f in FACTOR_FIELDS]
    return Study(
        name="factors",
        title="Leave one item factor out",
        paper_ref="Fig. 4",
        direction=("\"the most important factor is item name, size, and material. There are also misleading "
                   "factors, such as shapes.\" (Fig. 4, Ins Rec; the red line is \"no factor removed\")"),
        variants=tuple(variants),
        base="none removed",
        reference="none removed",
    )


def _pose2d() -> Study:
    return Study(
        name="pose2d",
        title="3D poses vs 2D poses (z removed)",
        paper_ref="Table 4",
        direction="\"using 3D human poses significantly outperforms using 2D poses\" (Table 4, Ins Rec).",
        variants=(Variant("3D (x y z visibility)", {"pose_input_channels": [0, 1, 2, 3]}),
                  Variant("2D (x y visibility)", {"pose_input_channels": [0, 1, 3]})),
        base="3D (x y z visibility)",
        plot_metrics=("recall@5", "ndcg@5", "recall@10", "ndcg@10"),
        requires_keys=("pose_input_channels",),
        notes=("2D = the same windows with the z channel dropped at the model input "
               "(`pose_input_channels: [0, 1, 3]`); the data files are the same.",),
    )


def _items() -> Study:
    return Study(
        name="items",
        title="Share of items kept (20-100 %)",
        paper_ref="Fig. 5",
        direction=("\"As the number of objects increases, the performance decreases. It indicates that the "
                   "growing item space brings difficulty for recommendation.\" (Fig. 5, Ins Rec)"),
        variants=tuple(Variant(f"{p}%", {}, DerivedDataset("items", p), x=p) for p in (20, 40, 60, 80, 100)),
        base="100%",
        plot_metrics=("recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        x_label="items kept [%]",
        notes=("Datasets: a seeded random subset of the items (seed 2022, nested: 20 % is inside 40 % ...) with "
               "only their annotations; a video left without any annotation is dropped with its windows, so "
               "small shares also have fewer videos (counts in the provenance lines), and the 6:2:2 video split "
               "(same split seed) is redrawn over the remaining videos. 100 % is the base dataset.",),
    )


STUDIES = {study.name: study for study in (_triplet(), _prototypes(), _frames(), _layers(), _factors(), _pose2d(),
                                           _items())}

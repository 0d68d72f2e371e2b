"""The paper's ablation studies, each in one place: its variants, levels, the paper's reported direction and
the findings its verdicts judge.

Every variant is PoseRec with a few configuration overrides (``Variant.config``) and, for the frames
and items studies, a derived dataset (``Variant.dataset``; see :mod:`poserec_experiments.derived_datasets`).
Every variant of every study runs with the training budget of ``budgets/ablations.yaml``
(:mod:`poserec_experiments.budgets`); the test metrics are those of the checkpoint with the best validation
NDCG@10. A study's ``findings`` are rules of :mod:`poserec_experiments.verdicts` naming the study's variants;
:class:`Study` refuses a finding that names a variant it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataset_conversion.layout import FACTOR_FIELDS, FACTORS
from poserec_experiments.candidates import CANDIDATES, Candidate, profile_overrides, profile_path
from poserec_experiments.verdicts import Best, Better, CheaperStep, Falls, Finding, Ranking

DEFAULT_SEEDS = (2022, 2023, 2024)


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
    """An ablation study of the paper: its variants and the findings judged on them."""

    name: str
    title: str
    paper_ref: str
    direction: str  # the paper's reported finding, quoted
    variants: tuple[Variant, ...]
    findings: tuple[Finding, ...]  # in the order of the verdict sentences
    levels: tuple[str, ...] = ("ins",)
    base: str = ""  # the variant that is PoseRec as configured (run with --base-seeds seeds)
    plot_metrics: tuple[str, ...] = ("recall@5", "ndcg@5")
    x_label: str = ""
    reference: str | None = None  # variant drawn as a red line in a bar plot (Fig. 4)
    relative_time_to: str | None = None  # variant whose step time is 1 (Table 5's "Time" column)
    requires_keys: tuple[str, ...] = ()  # PoseRec config keys the study needs (checked in PoseRec.yaml)
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        names = {v.name for v in self.variants}
        named = [self.base, self.reference, self.relative_time_to]
        named += [name for finding in self.findings for name in finding.variants]
        unknown = sorted({name for name in named if name is not None and name not in names})
        if unknown:
            raise ValueError(f"study {self.name} names variants it does not have: {unknown}")

    @property
    def plot_kind(self) -> str:
        return "lines" if all(v.x is not None for v in self.variants) else "bars"

    @property
    def judges_step_time(self) -> bool:
        """Whether a finding is judged on training-step times (the README then shows them)."""
        return any(isinstance(finding, CheaperStep) for finding in self.findings)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"study {self.name} has no variant {name!r}; it has {[v.name for v in self.variants]}")


def _triplet() -> Study:
    mining = [
        ({"mining": "pose_threshold", "mining_threshold": 0.5}, "pose_threshold p=0.5"),
        ({"mining": "pose_fraction", "mining_fraction": 0.5}, "pose_fraction 0.5"),
        ({"mining": "random"}, "random"),
        ({"mining": "hard"}, "hard"),
    ]
    variants = [Variant("w/o L_triple", {"triplet_weight": 0.0})]
    variants += [Variant(f"w L_triple ({label})", {"triplet_weight": 1.0, **config}) for config, label in mining]
    base, hard = "w L_triple (pose_threshold p=0.5)", "w L_triple (hard)"
    cheaper = ("pose-aware mining is cheaper than classic hard-negative mining",
               "training step `{cheaper}` {cheaper_ms:.0f} ms vs `{dearer}` {dearer_ms:.0f} ms "
               "(ratio {ratio:.2f}; {yardstick})")
    return Study(
        name="triplet",
        title="Pose-aware transductive hard-negative mining (L_triple) and mining variants",
        paper_ref="Table 2 and the complexity analysis of the supplementary material",
        direction=("\"without L_triple, the performance of the model significantly drops\" (Table 2, both levels); "
                   "\"selecting negative samples from dissimilar videos avoid the risk of adding false negative "
                   "samples into mining\" (Method); pose-aware mining is claimed to be \"much more efficient than "
                   "traditional hard negative mining\" (mining space 2c instead of 2bc - c)."),
        variants=tuple(variants),
        findings=(
            Better("L_triple helps", base, "w/o L_triple", levels=None),
            Better("negatives from dissimilar-pose windows avoid false negatives (pose-aware beats classic hard "
                   "mining)", base, hard, levels=None),
            CheaperStep(cheaper[0], base, hard, cheaper[1]),
            CheaperStep(cheaper[0], "w L_triple (pose_fraction 0.5)", hard, cheaper[1]),
        ),
        base=base,
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
        findings=(
            *[Better(f"L_pro helps at K={k}", f"K={k} w L_pro", f"K={k} w/o L_pro") for k in (2, 4, 8)],
            Better("more prototypes help (K=4 over K=1)", "K=4 w L_pro", "K=1 w L_pro"),
            Better("K too large over-fits (K=8 below K=4)", "K=4 w L_pro", "K=8 w L_pro"),
        ),
        base="K=4 w L_pro",
        x_label="number of prototypes K",
    )


def _frames() -> Study:
    findings = []
    for t in (25, 50):
        findings += [Better(f"more frames give more information (T={t})", f"T={t}", "T=10"),
                     CheaperStep("more frames take more time", "T=10", f"T={t}",
                                 "training step {dearer} is {times:.2f}x that of {cheaper} "
                                 "(paper, T=25: 1.55x; {yardstick})")]
    return Study(
        name="frames",
        title="Frames per window T (10, 25, 50)",
        paper_ref="Table 5",
        direction=("\"More frames may provide more information. But meanwhile, it takes more time and needs a "
                   "more complicated network to deal with more frames. Thus we balance the two aspects and set "
                   "the number of frames as 10.\" (Table 5; its Time column is relative to T = 10)"),
        variants=tuple(Variant(f"T={t}", {}, DerivedDataset("window", t), x=t) for t in (10, 25, 50)),
        findings=tuple(findings),
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
        findings=(Best("L = 3 is the best", "L=3", tuple(f"L={n}" for n in (1, 2, 3, 4)),
                       "L = 3 {best_score:.4f} vs the best other depth, L = {rival_x}, {rival_score:.4f} "
                       "(difference {difference:+.4f}; {yardstick}; NDCG@10 {scores})"),),
        base="L=3",
        levels=("ins", "cat"),
        plot_metrics=("recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        x_label="graph-convolution layers L",
    )


def _factors() -> Study:
    variants = [Variant("none removed", {"item_factor_fields": list(FACTOR_FIELDS)})]
    variants += [Variant(f"-{factor}", {"item_factor_fields": [g for g in FACTOR_FIELDS if g != removed]})
                 for factor, removed in zip(FACTORS, FACTOR_FIELDS)]
    return Study(
        name="factors",
        title="Leave one item factor out",
        paper_ref="Fig. 4",
        direction=("\"the most important factor is item name, size, and material. There are also misleading "
                   "factors, such as shapes.\" (Fig. 4, Ins Rec; the red line is \"no factor removed\")"),
        variants=tuple(variants),
        findings=(
            Ranking("the most important factors are name, size and material", "none removed",
                    tuple((factor, f"-{factor}") for factor in FACTORS), ("name", "size", "material"),
                    "the three largest drops when removed are {largest} ({yardstick}; drops beyond it: {beyond})"),
            Better("shape is a misleading factor (removing it helps)", "-shape", "none removed"),
        ),
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
        findings=(Better("3D poses beat 2D poses", "3D (x y z visibility)", "2D (x y visibility)"),),
        base="3D (x y z visibility)",
        plot_metrics=("recall@5", "ndcg@5", "recall@10", "ndcg@10"),
        requires_keys=("pose_input_channels",),
        notes=("2D = the same windows with the z channel dropped at the model input "
               "(`pose_input_channels: [0, 1, 3]`); the data files are the same.",),
    )


def _items() -> Study:
    shares = (20, 40, 60, 80, 100)
    return Study(
        name="items",
        title="Share of items kept (20-100 %)",
        paper_ref="Fig. 5",
        direction=("\"As the number of objects increases, the performance decreases. It indicates that the "
                   "growing item space brings difficulty for recommendation.\" (Fig. 5, Ins Rec)"),
        variants=tuple(Variant(f"{p}%", {}, DerivedDataset("items", p), x=p) for p in shares),
        findings=(Falls("a larger item space is harder (fewer items, higher scores)", tuple(f"{p}%" for p in shares),
                        "Spearman rank correlation of share and NDCG@10 {rho:+.2f} over {count} shares"),),
        base="100%",
        plot_metrics=("recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        x_label="items kept [%]",
        notes=("Datasets: a seeded random subset of the items (seed 2022, nested: 20 % is inside 40 % ...) with "
               "only their annotations; a video left without any annotation is dropped with its windows, so "
               "small shares also have fewer videos (counts in the provenance lines), and the 6:2:2 video split "
               "(same split seed) is redrawn over the remaining videos. 100 % is the base dataset.",),
    )


def profile_improvements(profile: dict) -> list[Candidate]:
    """The search's candidates a tuned profile is made of: each whose settings the profile holds, but for one whose
    settings are part of another such candidate's (the free item bias within the popularity-started one)."""
    held = [c for c in CANDIDATES if c.config and c.config.items() <= profile.items()]
    return [c for c in held if not any(c.config.items() < other.config.items() for other in held)]


def _improvements() -> Study:
    profile = profile_overrides(profile_path("PoseRec"))
    left_out = [(c, {k: v for k, v in profile.items() if k not in c.config}) for c in profile_improvements(profile)]
    variants = [Variant("paper's settings", {}), Variant("tuned profile", dict(profile))]
    variants += [Variant(f"without {c.name}", config) for c, config in left_out]
    findings = [Better("the tuned profile beats the paper's settings", "tuned profile", "paper's settings", None)]
    findings += [Better(f"{c.name} helps the tuned profile", "tuned profile", f"without {c.name}", None)
                 for c, _ in left_out]
    return Study(
        name="improvements",
        title="The tuned profile with each of its improvements left out",
        paper_ref="not in the paper (issue 16)",
        direction=("none: these are changes beyond the paper (`properties/model/PoseRec-tuned.yaml`, chosen by "
                   "`python -m poserec_experiments.tune` on validation); each is left out of the profile in turn"),
        variants=tuple(variants),
        findings=tuple(findings),
        base="paper's settings",
        levels=("ins", "cat"),
        plot_metrics=("recall@10", "ndcg@10"),
        notes=("A variant without a change falls back to PoseRec.yaml's setting (a learning rate the profile holds "
               "stays in every variant unless it is the change left out); the test figures are this study's, not a "
               "choice: the profile was chosen on validation before.",),
    )


STUDIES = {study.name: study for study in (_triplet(), _prototypes(), _frames(), _layers(), _factors(), _pose2d(),
                                           _items(), _improvements())}

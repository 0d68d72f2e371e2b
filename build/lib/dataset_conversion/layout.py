"""Names and shapes shared by the raw Pose-OBE layout, the converter and the plug-in.

Raw layout a user brings (see README, "Raw data layout")::

    <raw>/videos.csv              video_id,category,subcategory[,source]
    <raw>/poses/<video_id>.npy    float32 (T, 33, 4): x, y, z, visibility per BlazePose landmark
    <raw>/items.csv               item_id,name,<9 factors>,group
    <raw>/annotations.csv         video_id,item_id,score   (score in [-1, 1])
"""

VIDEOS_FILE = "videos.csv"
ITEMS_FILE = "items.csv"
ANNOTATIONS_FILE = "annotations.csv"
POSES_DIR = "poses"

VIDEO_COLUMNS = ("video_id", "category", "subcategory")
ANNOTATION_COLUMNS = ("video_id", "item_id", "score")

# The paper's nine natural-language item factors, in the order of its Pose-OBE description.
FACTORS = ("name", "usage", "size", "shape", "color", "material", "style", "pattern", "description")
ITEM_COLUMNS = ("item_id",) + FACTORS + ("group",)

# Table 3 of the paper: four foreground groups and one background group.
GROUPS = ("sports", "instruments", "clothes", "others", "background")

NUM_LANDMARKS = 33  # BlazePose
NUM_CHANNELS = 4  # x, y, z, visibility
DEFAULT_WINDOW = 10
DEFAULT_STEP = 5

# Names of the fields written into the RecBole atomic files.
USER_FIELD = "window_id"
ITEM_FIELD = "item_id"
VIDEO_FIELD = "video_id"
POSE_FIELD = "pose"
SCORE_FIELD = "score"
LABEL_FIELD = "label"
ITEM_NAME_FIELD = "name"
ITEM_GROUP_FIELD = "group"


def factor_field(factor: str) -> str:
    """Atomic-file field holding the text embedding of one item factor (e.g. ``f_name``)."""
    return f"f_{factor}"


FACTOR_FIELDS = tuple(factor_field(f) for f in FACTORS)

"""smart_resize, image token counts and frame encoding (agent/perception/imaging.py).

The expected sizes are the worked examples and the gui-plus regression of protocol.md §b.2.
"""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.perception.imaging import MIME, encode_bgra, image_tokens, smart_resize

# (factor, min_pixels, max_pixels) of the four columns of the §b.2 "Worked examples" table.
Q3_DEFAULT = (32, 4 * 32 * 32, 2_621_440)  # DashScope Qwen3-VL default: min 4 tokens
Q3_HIGHRES = (32, 4 * 32 * 32, 16_777_216)  # vl_high_resolution_images
Q25_DEFAULT = (28, 3136, 1_003_520)  # 1280 * 28 * 28
Q25_HIGHRES = (28, 3136, 12_845_056)  # 16384 * 28 * 28

# (screen width, height, budget, expected width, expected height), straight from the table.
WORKED_EXAMPLES = [
    (1920, 1080, Q3_DEFAULT, 1920, 1088),
    (1920, 1080, Q3_HIGHRES, 1920, 1088),
    (1920, 1080, Q25_DEFAULT, 1316, 728),
    (1920, 1080, Q25_HIGHRES, 1932, 1092),
    (2560, 1440, Q3_DEFAULT, 2144, 1184),
    (2560, 1440, Q3_HIGHRES, 2560, 1440),
    (2560, 1440, Q25_DEFAULT, 1316, 728),
    (2560, 1440, Q25_HIGHRES, 2548, 1428),
    (2880, 1800, Q3_DEFAULT, 2048, 1280),
    (2880, 1800, Q3_HIGHRES, 2880, 1792),
    (2880, 1800, Q25_DEFAULT, 1260, 784),
    (2880, 1800, Q25_HIGHRES, 2884, 1792),
    (1080, 2400, Q3_DEFAULT, 1088, 2400),
    (1080, 2400, Q3_HIGHRES, 1088, 2400),
    (1080, 2400, Q25_DEFAULT, 672, 1484),
    (1080, 2400, Q25_HIGHRES, 1092, 2408),
]
BUDGET_NAMES = {Q3_DEFAULT: "q3-default", Q3_HIGHRES: "q3-highres", Q25_DEFAULT: "q25-default"}
BUDGET_NAMES[Q25_HIGHRES] = "q25-highres"


def _resize(width: int, height: int, budget: tuple[int, int, int]) -> tuple[int, int]:
    """smart_resize as (width, height), for tables written width-first like the doc."""
    factor, min_pixels, max_pixels = budget
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return w, h


@pytest.mark.parametrize(
    ("width", "height", "budget", "want_w", "want_h"),
    WORKED_EXAMPLES,
    ids=[f"{w}x{h}-{BUDGET_NAMES[b]}" for w, h, b, _, _ in WORKED_EXAMPLES],
)
def test_smart_resize_worked_examples(width, height, budget, want_w, want_h):
    assert _resize(width, height, budget) == (want_w, want_h)


@pytest.mark.parametrize(
    ("max_pixels", "want"),
    [
        pytest.param(1280 * 28 * 28, (1288, 756), id="default-1280-tokens"),
        pytest.param(12_845_056, (2996, 1764), id="vl-high-resolution"),
    ],
)
def test_smart_resize_gui_plus_regression(max_pixels, want):
    # ALI-GUI: a 3008x1758 screenshot, factor 28.
    assert _resize(3008, 1758, (28, 3136, max_pixels)) == want


def test_smart_resize_takes_height_first_and_returns_height_first():
    # A portrait phone: if the axes were swapped the answer would be 2400x1088.
    assert smart_resize(2400, 1080, factor=32, min_pixels=4096, max_pixels=16_777_216) == (
        2400,
        1088,
    )


@pytest.mark.parametrize(
    ("width", "want_w"),
    [
        pytest.param(1936, 1920, id="60.5-rounds-down-to-even"),  # Math.round would give 1952
        pytest.param(1968, 1984, id="61.5-rounds-up-to-even"),
        pytest.param(2000, 1984, id="62.5-rounds-down-to-even"),
        pytest.param(1950, 1952, id="60.94-rounds-to-nearest"),
    ],
)
def test_smart_resize_rounds_half_to_even(width, want_w):
    h, w = smart_resize(1024, width, factor=32, min_pixels=4096, max_pixels=16_777_216)
    assert (w, h) == (want_w, 1024)


def test_smart_resize_scales_tiny_images_up_to_min_pixels():
    # 10x10 rounds to 28x28 = 784 px < 3136, so beta = 5.6 and both sides become ceil(2) * 28.
    assert smart_resize(10, 10, factor=28, min_pixels=3136, max_pixels=12_845_056) == (56, 56)


@pytest.mark.parametrize(
    ("height", "width"),
    [pytest.param(10, 2001, id="wide-200.1"), pytest.param(2001, 10, id="tall-200.1")],
)
def test_smart_resize_rejects_aspect_over_200(height, width):
    with pytest.raises(ValueError, match="200"):
        smart_resize(height, width, factor=28, min_pixels=3136, max_pixels=12_845_056)


def test_smart_resize_accepts_aspect_of_exactly_200():
    h, w = smart_resize(10, 2000, factor=28, min_pixels=3136, max_pixels=12_845_056)
    assert h % 28 == 0 and w % 28 == 0


@settings(max_examples=300, database=None, deadline=None)
@given(
    height=st.integers(100, 8000),  # aspect stays <= 80, well inside the 200 limit
    width=st.integers(100, 8000),
    budget=st.sampled_from([Q3_DEFAULT, Q3_HIGHRES, Q25_DEFAULT, Q25_HIGHRES]),
)
def test_smart_resize_output_is_on_the_grid_and_within_budget(height, width, budget):
    factor, min_pixels, max_pixels = budget
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    assert h % factor == 0 and w % factor == 0
    assert min_pixels <= h * w <= max_pixels


@pytest.mark.parametrize(
    ("height", "width", "factor", "want"),
    [
        # The §b.2 table prints 2040 and 2479 tokens: that is h*w/f^2, the patch count; the billed
        # count in the same section (ALI-VIS) adds 2 for the vision start/end tokens.
        pytest.param(1088, 1920, 32, 2040 + 2, id="1920x1088-f32"),
        pytest.param(1184, 2144, 32, 2479 + 2, id="2144x1184-f32"),
        pytest.param(756, 1288, 28, 1242 + 2, id="gui-plus-1288x756-f28"),
        pytest.param(32, 32, 32, 1 + 2, id="one-patch"),
    ],
)
def test_image_tokens(height, width, factor, want):
    assert image_tokens(height, width, factor) == want


# --- encode_bgra -----------------------------------------------------------------------------

WIDTH, HEIGHT = 7, 5  # odd sizes, so a row-stride or axis mix-up shows


def _bgra_frame(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A frame where every pixel differs, and alpha is not 255 (it must be ignored)."""
    out = bytearray()
    for i in range(width * height):
        out += bytes(((i * 7) % 256, (i * 13 + 1) % 256, (i * 29 + 2) % 256, (i * 3) % 256))
    return bytes(out)


def _as_rgb(bgra: bytes) -> bytes:
    return b"".join(bytes((bgra[i + 2], bgra[i + 1], bgra[i])) for i in range(0, len(bgra), 4))


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_png_without_resize_is_pixel_exact_rgb():
    raw = _bgra_frame()
    encoded = encode_bgra(raw, (WIDTH, HEIGHT), target=(WIDTH, HEIGHT))
    image = _decode(encoded.data)
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    assert (encoded.width, encoded.height) == (WIDTH, HEIGHT)
    assert image.convert("RGB").tobytes() == _as_rgb(raw)


def test_lossless_webp_without_resize_is_pixel_exact_rgb():
    raw = _bgra_frame()
    encoded = encode_bgra(raw, (WIDTH, HEIGHT), target=(WIDTH, HEIGHT), image_format="webp")
    assert _decode(encoded.data).convert("RGB").tobytes() == _as_rgb(raw)


@pytest.mark.parametrize(
    ("image_format", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
@pytest.mark.parametrize("target", [(3, 2), (14, 10), (WIDTH, HEIGHT)], ids=["down", "up", "same"])
def test_encoded_image_decodes_at_target_size(image_format, pil_format, target):
    encoded = encode_bgra(_bgra_frame(), (WIDTH, HEIGHT), target=target, image_format=image_format)
    image = _decode(encoded.data)
    assert image.format == pil_format
    assert image.size == target
    assert (encoded.width, encoded.height) == target
    assert encoded.format == image_format


def test_resize_keeps_a_uniform_colour():
    # A flat BGRA colour stays that colour after a bilinear resize: channels are not swapped.
    raw = bytes((10, 20, 200, 0)) * (WIDTH * HEIGHT)
    encoded = encode_bgra(raw, (WIDTH, HEIGHT), target=(3, 2))
    assert _decode(encoded.data).convert("RGB").tobytes() == bytes((200, 20, 10)) * 6


@pytest.mark.parametrize(
    ("image_format", "prefix"),
    [
        ("png", "data:image/png;base64,"),
        ("jpeg", "data:image/jpeg;base64,"),
        ("webp", "data:image/webp;base64,"),
    ],
)
def test_data_url_prefix_and_payload(image_format, prefix):
    encoded = encode_bgra(_bgra_frame(), (WIDTH, HEIGHT), target=(3, 2), image_format=image_format)
    url = encoded.data_url()
    assert url.startswith(prefix)
    assert MIME[image_format] in prefix
    assert base64.b64decode(url[len(prefix) :], validate=True) == encoded.data

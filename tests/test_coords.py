"""Model coordinates to screen pixels and back, in every coordinate space (perception/coords.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import ResizeSettings
from agent.errors import ActionError
from agent.loop import image_size
from agent.perception.coords import COORD_SPACES, Mapping
from agent.perception.screen import Frame, Region

SCREEN = Region(0, 0, 1280, 800)


@pytest.mark.parametrize(
    ("space", "image_size", "point", "want"),
    [
        # relative-1000: x / 1000 * width
        pytest.param("relative-1000", (1280, 800), (0, 500), (0, 400), id="rel1000-left-edge"),
        pytest.param("relative-1000", (1280, 800), (500, 500), (640, 400), id="rel1000-centre"),
        pytest.param("relative-1000", (1280, 800), (250, 750), (320, 600), id="rel1000-quarter"),
        pytest.param("relative-1000", (1280, 800), (10, 20), (13, 16), id="rel1000-rounds"),
        pytest.param(
            "relative-1000", (640, 400), (500, 500), (640, 400), id="rel1000-ignores-image"
        ),
        # relative-999: x / 999 * width
        pytest.param("relative-999", (1280, 800), (0, 999), (1, 798), id="rel999-corner-nudged"),
        pytest.param("relative-999", (1280, 800), (499.5, 499.5), (640, 400), id="rel999-centre"),
        pytest.param("relative-999", (1280, 800), (333, 666), (427, 533), id="rel999-thirds"),
        # image: pixels of the (resized) image the model saw
        pytest.param("image", (640, 400), (320, 200), (640, 400), id="image-half-size"),
        pytest.param("image", (640, 400), (100, 50), (200, 100), id="image-scaled"),
        pytest.param("image", (1280, 800), (123, 456), (123, 456), id="image-same-size"),
        # screen: pixels of the captured region
        pytest.param("screen", (640, 400), (123, 456), (123, 456), id="screen-identity"),
        pytest.param("screen", (640, 400), (5, 799), (5, 799), id="screen-last-row"),
    ],
)
def test_to_screen_per_space(space, image_size, point, want):
    assert Mapping(space, SCREEN, image_size).to_screen(*point) == want


@pytest.mark.parametrize(
    ("space", "point"),
    [
        pytest.param("relative-1000", (1000, 1000), id="rel1000"),
        pytest.param("relative-999", (999, 999), id="rel999"),
        pytest.param("image", (640, 400), id="image"),
        pytest.param("screen", (1280, 800), id="screen"),
    ],
)
def test_far_edge_is_clamped_to_the_last_pixel(space, point):
    # x = extent maps to x = width, one past the screen: it must land on width - 1.
    x, y = point
    assert Mapping(space, SCREEN, (640, 400)).to_screen(x, y / 2) == (1279, 400)
    assert Mapping(space, SCREEN, (640, 400)).to_screen(x / 2, y) == (640, 799)


@pytest.mark.parametrize(
    ("region", "point", "want"),
    [
        pytest.param(Region(1920, 0, 2560, 1440), (0, 0), (1920, 0), id="right-monitor-origin"),
        pytest.param(
            Region(1920, 0, 2560, 1440), (500, 500), (3200, 720), id="right-monitor-centre"
        ),
        pytest.param(
            # the virtual screen's bottom-right corner: a fail-safe point, nudged inward
            Region(1920, 0, 2560, 1440),
            (1000, 1000),
            (4478, 1438),
            id="right-monitor-far-corner",
        ),
        pytest.param(Region(0, 1080, 1920, 1080), (500, 500), (960, 1620), id="monitor-below"),
        pytest.param(
            Region(-1920, 0, 1920, 1080), (0, 0), (-1919, 1), id="left-monitor-origin-is-a-corner"
        ),
        pytest.param(
            Region(-1920, 0, 1920, 1080), (500, 500), (-960, 540), id="left-monitor-centre"
        ),
        pytest.param(Region(-1920, -200, 1920, 1080), (1000, 1000), (-1, 879), id="left-far-edge"),
    ],
)
def test_region_offset_is_added(region, point, want):
    # A second monitor beside a 1920x1080 primary one at the origin: the virtual screen spans both.
    x0, y0 = min(0, region.left), min(0, region.top)
    right = max(region.left + region.width, 1920)
    bottom = max(region.top + region.height, 1080)
    virtual = Region(x0, y0, right - x0, bottom - y0)
    assert Mapping("relative-1000", region, (1000, 1000), virtual).to_screen(*point) == want


@pytest.mark.parametrize(
    ("space", "point", "bounds"),
    [
        pytest.param(
            "relative-1000", (1200, 500), "x must be in 0..1000 and y in 0..1000", id="rel1000-x"
        ),
        pytest.param("relative-1000", (500, 1000.5), "0..1000", id="rel1000-y"),
        pytest.param("relative-1000", (-1, 10), "0..1000", id="rel1000-negative"),
        pytest.param(
            "relative-999", (1000, 10), "x must be in 0..999 and y in 0..999", id="rel999"
        ),
        pytest.param("image", (641, 10), "x must be in 0..640 and y in 0..400", id="image"),
        pytest.param("screen", (10, 801), "x must be in 0..1280 and y in 0..800", id="screen"),
        pytest.param("screen", (float("nan"), 10), "0..1280", id="nan"),
    ],
)
def test_off_space_point_is_an_action_error_stating_the_bounds(space, point, bounds):
    mapping = Mapping(space, SCREEN, (640, 400))
    with pytest.raises(ActionError, match="outside the screen") as caught:
        mapping.to_screen(*point)
    assert bounds in str(caught.value)


@pytest.mark.parametrize(
    ("space", "image_size", "want"),
    [
        ("relative-1000", (640, 400), (1000, 1000)),
        ("relative-999", (640, 400), (999, 999)),
        ("image", (640, 400), (640, 400)),
        ("screen", (640, 400), (1280, 800)),
    ],
)
def test_announced_size(space, image_size, want):
    assert Mapping(space, SCREEN, image_size).announced_size() == want


# The gui-plus doc's own numbers (ALI-GUI, protocol.md §b.2): a 3008x1758 screen sent at the
# smart-resized size, with the model answering in pixels of that image.
GUI_PLUS_SCREEN = Region(0, 0, 3008, 1758)


def test_gui_plus_default_point():
    mapping = Mapping("image", GUI_PLUS_SCREEN, (1288, 756))
    assert mapping.to_screen(1089, 123) == (2543, 286)


def test_gui_plus_high_resolution_point_within_one_pixel():
    # The doc gives (2520, 302): it truncates 304 / 1764 * 1758 = 302.97. We round to the nearest
    # pixel (303), so only agreement within 1 px is asserted.
    sx, sy = Mapping("image", GUI_PLUS_SCREEN, (2996, 1764)).to_screen(2510, 304)
    assert abs(sx - 2520) <= 1
    assert abs(sy - 302) <= 1


# --- properties ------------------------------------------------------------------------------


@st.composite
def mappings(draw, space):
    width = draw(st.integers(320, 7680))
    height = draw(st.integers(240, 4320))
    left = draw(st.integers(-7680, 7680))
    top = draw(st.integers(-4320, 4320))
    image = (draw(st.integers(28, 8192)), draw(st.integers(28, 8192)))
    return Mapping(space, Region(left, top, width, height), image)


@settings(max_examples=300, database=None, deadline=None)
@given(data=st.data(), space=st.sampled_from(COORD_SPACES))
def test_screen_to_model_to_screen_round_trip_within_one_pixel(data, space):
    mapping = data.draw(mappings(space))
    r = mapping.region
    sx = data.draw(st.integers(r.left, r.left + r.width - 1), label="sx")
    sy = data.draw(st.integers(r.top, r.top + r.height - 1), label="sy")
    bx, by = mapping.to_screen(*mapping.to_model(sx, sy))
    assert abs(bx - sx) <= 1
    assert abs(by - sy) <= 1


@settings(max_examples=300, database=None, deadline=None)
@given(data=st.data(), space=st.sampled_from(COORD_SPACES))
def test_every_in_space_point_lands_inside_the_region(data, space):
    mapping = data.draw(mappings(space))
    ext_w, ext_h = mapping.model_extent()
    x = data.draw(st.floats(0, ext_w), label="x")
    y = data.draw(st.floats(0, ext_h), label="y")
    sx, sy = mapping.to_screen(x, y)
    r = mapping.region
    assert r.left <= sx <= r.left + r.width - 1
    assert r.top <= sy <= r.top + r.height - 1


# --- fail-safe corners -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "want"),
    [
        pytest.param((0, 0), (1, 1), id="top-left"),
        pytest.param((1000, 0), (1278, 1), id="top-right"),
        pytest.param((0, 1000), (1, 798), id="bottom-left"),
        pytest.param((1000, 1000), (1278, 798), id="bottom-right"),
        pytest.param((0, 500), (0, 400), id="edge-is-not-a-corner"),
    ],
)
def test_a_target_on_a_failsafe_corner_is_nudged_one_pixel_inward(point, want):
    # pyautogui stops on its next call when the pointer sits on one of these four pixels.
    assert Mapping("relative-1000", SCREEN, (1280, 800)).to_screen(*point) == want


def test_only_the_virtual_screens_corners_are_failsafe_points():
    # The second monitor's own corners are ordinary pixels in the middle of the virtual screen.
    right = Region(1920, 0, 1280, 1024)
    mapping = Mapping("relative-1000", right, (1280, 1024), Region(0, 0, 3200, 1080))
    assert mapping.to_screen(0, 0) == (1920, 0)
    assert mapping.to_screen(0, 1000) == (1920, 1023)
    assert mapping.to_screen(1000, 0) == (3198, 1)  # the virtual screen's top-right corner
    assert mapping.failsafe_points() == ((0, 0), (0, 1079), (3199, 0), (3199, 1079))


# --- HiDPI and declared display sizes --------------------------------------------------------


def hidpi_frame(width: int, height: int, scale: float, *, left: int = 0, top: int = 0) -> Frame:
    """A frame whose pixels are `scale` times its logical region, as on a HiDPI screen."""
    size = (round(width * scale), round(height * scale))
    return Frame(b"", size, Region(left, top, width, height), 0.0)


@pytest.mark.parametrize("scale", [1.0, 1.25, 1.5, 2.0])
def test_image_points_map_to_logical_pixels_on_hidpi_screens(scale):
    # A Qwen2.5-VL-style model sees the physical screenshot smart-resized (factor 28) and answers
    # in pixels of that image; the click must land on the logical pixel pyautogui uses.
    frame = hidpi_frame(1440, 900, scale)
    resize = ResizeSettings(factor=28, min_pixels=3136, max_pixels=1_003_520)
    image = image_size(frame, "image", resize)
    mapping = Mapping("image", frame.region, image)
    logical = (1000, 300)
    physical = (logical[0] * frame.scale, logical[1] * frame.scale)
    seen = (physical[0] / frame.size[0] * image[0], physical[1] / frame.size[1] * image[1])
    x, y = mapping.to_screen(*seen)
    assert abs(x - logical[0]) <= 1 and abs(y - logical[1]) <= 1


def test_a_declared_display_size_is_the_image_space():
    # Anthropic-style: the screenshot is scaled to the declared 1280x720 and the model answers in
    # pixels of it; the middle of that image is the middle of the 1920x1080 screen.
    mapping = Mapping("image", Region(0, 0, 1920, 1080), (1280, 720))
    assert mapping.announced_size() == (1280, 720)
    assert mapping.to_screen(640, 360) == (960, 540)
    assert mapping.to_screen(1280, 360) == (1919, 540)


# --- properties over monitor layouts ---------------------------------------------------------


@st.composite
def layouts(draw, space):
    """A mapping for one monitor of a random layout of 1 to 3 side by side or stacked monitors."""
    count = draw(st.integers(1, 3))
    sizes = [(draw(st.integers(320, 5120)), draw(st.integers(240, 2880))) for _ in range(count)]
    across = draw(st.booleans())
    origin = draw(st.integers(-sum(w for w, _ in sizes), 0))  # the primary need not be first
    regions, position = [], origin
    for width, height in sizes:
        left, top = (position, 0) if across else (0, position)
        regions.append(Region(left, top, width, height))
        position += width if across else height
    x0, y0 = min(r.left for r in regions), min(r.top for r in regions)
    x1 = max(r.left + r.width for r in regions)
    y1 = max(r.top + r.height for r in regions)
    region = draw(st.sampled_from(regions))
    scale = draw(st.sampled_from([1.0, 1.25, 1.5, 2.0]))
    frame = hidpi_frame(region.width, region.height, scale, left=region.left, top=region.top)
    if draw(st.booleans()):
        factor = draw(st.sampled_from([28, 32]))
        max_pixels = draw(st.sampled_from([1_003_520, 2_621_440, 12_845_056]))
        resize = ResizeSettings(factor=factor, min_pixels=4 * factor**2, max_pixels=max_pixels)
        image = image_size(frame, space, resize)
    else:  # a declared display size, as Anthropic and OpenAI models use
        image = (draw(st.integers(640, 1920)), draw(st.integers(400, 1200)))
    return Mapping(space, region, image, Region(x0, y0, x1 - x0, y1 - y0))


@settings(max_examples=400, database=None, deadline=None)
@given(data=st.data(), space=st.sampled_from(COORD_SPACES))
def test_round_trip_within_one_pixel_on_any_monitor_of_any_layout(data, space):
    mapping = data.draw(layouts(space))
    r = mapping.region
    sx = data.draw(st.integers(r.left, r.left + r.width - 1), label="sx")
    sy = data.draw(st.integers(r.top, r.top + r.height - 1), label="sy")
    bx, by = mapping.to_screen(*mapping.to_model(sx, sy))
    assert abs(bx - sx) <= 1
    assert abs(by - sy) <= 1
    assert (bx, by) not in mapping.failsafe_points()

"""Model coordinates to screen pixels and back, for every coordinate space (agent/coords.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.coords import COORD_SPACES, Mapping
from agent.errors import ActionError
from agent.screen import Region

SCREEN = Region(0, 0, 1280, 800)


@pytest.mark.parametrize(
    ("space", "image_size", "point", "want"),
    [
        # relative-1000: x / 1000 * width
        pytest.param("relative-1000", (1280, 800), (0, 0), (0, 0), id="rel1000-origin"),
        pytest.param("relative-1000", (1280, 800), (500, 500), (640, 400), id="rel1000-centre"),
        pytest.param("relative-1000", (1280, 800), (250, 750), (320, 600), id="rel1000-quarter"),
        pytest.param("relative-1000", (1280, 800), (10, 20), (13, 16), id="rel1000-rounds"),
        pytest.param(
            "relative-1000", (640, 400), (500, 500), (640, 400), id="rel1000-ignores-image"
        ),
        # relative-999: x / 999 * width
        pytest.param("relative-999", (1280, 800), (0, 0), (0, 0), id="rel999-origin"),
        pytest.param("relative-999", (1280, 800), (499.5, 499.5), (640, 400), id="rel999-centre"),
        pytest.param("relative-999", (1280, 800), (333, 666), (427, 533), id="rel999-thirds"),
        # image: pixels of the (resized) image the model saw
        pytest.param("image", (640, 400), (320, 200), (640, 400), id="image-half-size"),
        pytest.param("image", (640, 400), (100, 50), (200, 100), id="image-scaled"),
        pytest.param("image", (1280, 800), (123, 456), (123, 456), id="image-same-size"),
        # screen: pixels of the captured region
        pytest.param("screen", (640, 400), (123, 456), (123, 456), id="screen-identity"),
        pytest.param("screen", (640, 400), (0, 799), (0, 799), id="screen-last-row"),
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
    assert Mapping(space, SCREEN, (640, 400)).to_screen(*point) == (1279, 799)


@pytest.mark.parametrize(
    ("region", "point", "want"),
    [
        pytest.param(Region(1920, 0, 2560, 1440), (0, 0), (1920, 0), id="right-monitor-origin"),
        pytest.param(
            Region(1920, 0, 2560, 1440), (500, 500), (3200, 720), id="right-monitor-centre"
        ),
        pytest.param(
            Region(1920, 0, 2560, 1440), (1000, 1000), (4479, 1439), id="right-monitor-far-edge"
        ),
        pytest.param(Region(0, 1080, 1920, 1080), (500, 500), (960, 1620), id="monitor-below"),
        pytest.param(Region(-1920, 0, 1920, 1080), (0, 0), (-1920, 0), id="left-monitor-origin"),
        pytest.param(
            Region(-1920, 0, 1920, 1080), (500, 500), (-960, 540), id="left-monitor-centre"
        ),
        pytest.param(Region(-1920, -200, 1920, 1080), (1000, 1000), (-1, 879), id="left-far-edge"),
    ],
)
def test_region_offset_is_added(region, point, want):
    assert Mapping("relative-1000", region, (1000, 1000)).to_screen(*point) == want


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

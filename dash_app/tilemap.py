"""China's provincial-level divisions as a tile grid: one equal square each, placed roughly where it lies.

Drawn by the app itself (CSS grid), so the map needs no tiles, topojson or network. The
layout follows the common tile-grid maps of China: north-east top right, Xinjiang and Tibet
to the west, Hainan and the SARs at the bottom.
"""

from __future__ import annotations

# short name → (row, column, English name)
TILES: dict[str, tuple[int, int, str]] = {
    "黑龙江": (0, 6, "Heilongjiang"),
    "内蒙古": (1, 3, "Inner Mongolia"), "北京": (1, 4, "Beijing"), "辽宁": (1, 5, "Liaoning"),
    "吉林": (1, 6, "Jilin"),
    "新疆": (2, 0, "Xinjiang"), "甘肃": (2, 1, "Gansu"), "宁夏": (2, 2, "Ningxia"), "山西": (2, 3, "Shanxi"),
    "河北": (2, 4, "Hebei"), "天津": (2, 5, "Tianjin"),
    "西藏": (3, 0, "Tibet"), "青海": (3, 1, "Qinghai"), "陕西": (3, 2, "Shaanxi"), "河南": (3, 3, "Henan"),
    "山东": (3, 4, "Shandong"),
    "四川": (4, 1, "Sichuan"), "重庆": (4, 2, "Chongqing"), "湖北": (4, 3, "Hubei"), "安徽": (4, 4, "Anhui"),
    "江苏": (4, 5, "Jiangsu"),
    "云南": (5, 1, "Yunnan"), "贵州": (5, 2, "Guizhou"), "湖南": (5, 3, "Hunan"), "江西": (5, 4, "Jiangxi"),
    "浙江": (5, 5, "Zhejiang"), "上海": (5, 6, "Shanghai"),
    "广西": (6, 2, "Guangxi"), "广东": (6, 3, "Guangdong"), "福建": (6, 4, "Fujian"), "台湾": (6, 5, "Taiwan"),
    "海南": (7, 2, "Hainan"), "澳门": (7, 3, "Macao"), "香港": (7, 4, "Hong Kong"),
}  # fmt: skip
ROWS = 1 + max(row for row, _, _ in TILES.values())
COLUMNS = 1 + max(column for _, column, _ in TILES.values())
# Longest first, so 广西壮族自治区 loses its whole suffix rather than just 自治区.
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
_ENGLISH = {english.casefold(): short for short, (_, _, english) in TILES.items()}


def province_short(name: str | None) -> str | None:
    """The tile a register's province value belongs to (广东省, 广东, Guangdong → 广东), or None."""
    if not name:
        return None
    text = str(name).strip()
    if text in TILES:
        return text
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and text[: -len(suffix)] in TILES:
            return text[: -len(suffix)]
    return _ENGLISH.get(text.casefold().removesuffix(" province"))

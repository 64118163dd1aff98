"""The scripted registry update both refresh test modules apply: a deregistration, a rename, a new firm."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ingest.generator import uscc_check_char

NEW_FIRM_NAME = "深圳市澜芯智能科技有限公司"


def write_registry_update(path: Path, header: list[str], firms: pd.DataFrame, dereg_id: str, renamed_id: str) -> str:
    """Write a registry CSV (the generator's `header`) that deregisters `dereg_id`, renames `renamed_id`
    (keeping the old name as 曾用名) and registers a new Shenzhen firm; returns the new firm's id.
    `firms` is the workspace's firms table indexed by firm_id."""
    new_id = "91440300MA5G7X2K9"
    new_id += uscc_check_char(new_id)
    old_name = firms.loc[renamed_id, "name"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerow({"企业名称": firms.loc[dereg_id, "name"], "统一社会信用代码": dereg_id, "登记状态": "注销",
                         "注销日期": "2026-10-30"})
        writer.writerow({"企业名称": "新域" + old_name, "统一社会信用代码": renamed_id, "曾用名": old_name,
                         "登记状态": "存续"})
        writer.writerow({"企业名称": NEW_FIRM_NAME, "统一社会信用代码": new_id, "登记状态": "存续",
                         "成立日期": "2018-04-02", "省份": "广东省", "城市": "深圳市", "企业规模": "小型",
                         "地址": "深圳市南山区科技园南区澜芯大厦"})
    return new_id

"""Value normalisers and header synonyms of the ingest stage."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest import normalize as nz
from ingest.headers import FIRM_HEADERS, PATENT_HEADERS, map_headers


@pytest.mark.parametrize("raw", ["CN114123456A", "CN 114123456 A", "CN114123456 A", "cn114123456a", "ＣＮ１１４１２３４５６Ａ"])
def test_publication_number_spellings_normalise_to_one_form(raw):
    assert nz.publication_number(raw) == ("CN114123456A", "A")


def test_publication_number_rejects_text_that_is_not_one():
    with pytest.raises(ValueError, match="not a publication number"):
        nz.publication_number("见附件")
    assert nz.publication_number("  ") is None


@pytest.mark.parametrize("raw", ["CN202110123456.7", "202110123456.7", "2021101234567", "CN 202110123456.7"])
def test_application_number_spellings(raw):
    assert nz.application_number(raw) == "CN202110123456.7"


def test_application_number_with_x_check_digit():
    assert nz.application_number("202030000001X") == "CN202030000001.X"


@pytest.mark.parametrize(
    ("raw", "codes"),
    [
        ("G06N3/08", ["G06N3/08"]),
        ("G06N 3/08", ["G06N3/08"]),
        ("G06N0003080000", ["G06N3/08"]),
        ("G06F0016350000", ["G06F16/35"]),
        ("G06N0003084000", ["G06N3/084"]),
        ("G06N3/08 (2006.01)", ["G06N3/08"]),
        ("H04L29/06(2006.01)I;H04L12/24(2006.01)I", ["H04L29/06", "H04L12/24"]),
        ("G06N3/08；G06F17/30, G06N 3/08", ["G06N3/08", "G06F17/30"]),
        ("G06N3/08 G06F17/30", ["G06N3/08", "G06F17/30"]),
        ("", []),
    ],
)
def test_classification_codes_one_form(raw, codes):
    assert nz.classification_codes(raw) == codes


def test_classification_code_garbage_is_rejected():
    with pytest.raises(ValueError, match="not an IPC/CPC code"):
        nz.classification_codes("G06N3/08;人工智能")


@pytest.mark.parametrize("raw", ["2021-03-05", "2021.03.05", "20210305", "2021/3/5", "2021年3月5日",
                                 "2021-03-05 00:00:00", dt.datetime(2021, 3, 5, 0, 0), dt.date(2021, 3, 5)])
def test_dates_in_every_listed_form(raw):
    assert nz.parse_date(raw) == dt.date(2021, 3, 5)


def test_impossible_and_non_dates_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="not a real date"):
        nz.parse_date("2021-02-30")
    with pytest.raises(ValueError, match="is not a date"):
        nz.parse_date("下周三")
    assert nz.parse_date("") is None


def test_multi_values_split_on_semicolons_bars_and_newlines_but_not_commas():
    assert nz.split_multi("Foo, Inc.; Bar Technologies Co., Ltd.") == ["Foo, Inc.", "Bar Technologies Co., Ltd."]
    assert nz.split_multi("张三；李四 | 王五\n赵六;") == ["张三", "李四", "王五", "赵六"]


def test_patent_type_from_text_then_kind():
    assert nz.patent_type("发明申请", "A") == "invention"
    assert nz.patent_type("发明授权", "B") == "invention"
    assert nz.patent_type("实用新型", None) == "utility_model"
    assert nz.patent_type("外观设计", None) == "design"
    assert nz.patent_type(None, "U") == "utility_model"
    assert nz.patent_type("", "S") == "design"
    assert nz.patent_type(None, None) == "unknown"


@pytest.mark.parametrize(
    ("raw", "ten_k_cny"),
    [("5000万元人民币", 5000.0), ("5000万人民币", 5000.0), ("5,000万元", 5000.0), ("100万美元", 100 * nz.FX_TO_CNY["USD"]),
     ("500万元港币", 500 * nz.FX_TO_CNY["HKD"]), ("1.2亿元", 12000.0), ("500000元", 50.0), ("800", 800.0), ("", None)],
)
def test_registered_capital_in_10k_cny(raw, ten_k_cny):
    expected = None if ten_k_cny is None else pytest.approx(ten_k_cny)
    assert nz.registered_capital(raw) == expected


def test_registered_capital_with_unreadable_unit():
    with pytest.raises(ValueError, match="unit"):
        nz.registered_capital("100万股")


@pytest.mark.parametrize(
    ("raw", "status"),
    [("存续", "operating"), ("在业", "operating"), ("存续（在营、开业、在册）", "operating"), ("开业", "operating"),
     ("注销", "deregistered"), ("吊销", "revoked"), ("吊销，未注销", "revoked"), ("迁出", "moved_out"),
     ("清算", "liquidating"), ("停业", "unknown"), ("ACTIVE", "operating"), ("INACTIVE", "deregistered")],
)
def test_registration_status_enum(raw, status):
    assert nz.firm_status(raw) == status


def test_size_bands():
    assert [nz.size_band(s) for s in ("微型", "小型", "中型", "大型", "Small", "")] == [
        "micro", "small", "medium", "large", "small", None]


def test_credit_code_check_digit_against_real_codes():
    assert nz.credit_code("914403001922038216") == "914403001922038216"  # 华为技术有限公司
    assert nz.credit_code("９１４４０３００１９２２０３８２１６") == "914403001922038216"
    with pytest.raises(ValueError, match="check"):
        nz.credit_code("914403001922038217")
    with pytest.raises(ValueError, match="18"):
        nz.credit_code("91440300192203821")
    with pytest.raises(ValueError, match="not allowed"):
        nz.credit_code("91440300192203821O")


def test_lei_check_digits():
    assert nz.firm_identifier("2138004VFYZFYLELHT92") == "2138004VFYZFYLELHT92"
    with pytest.raises(ValueError, match="ISO 17442"):
        nz.firm_identifier("2138004VFYZFYLELHT93")


def test_vendor_headers_map_to_the_same_fields():
    cnipa = ["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "申请（专利权）人", "发明（设计）人", "地址",
             "主分类号", "分类号", "引证专利", "权利要求数量", "法律状态", "专利类型"]
    incopat = ["公开号", "申请号", "申请日", "公开日", "标题", "申请人", "发明人", "申请人地址", "IPC主分类", "IPC",
               "引证专利", "权利要求数", "当前法律状态", "专利类型"]
    patsnap = ["公开(公告)号", "申请号", "申请日", "公开(公告)日", "标题", "申请(专利权)人", "发明人", "申请(专利权)人地址",
               "IPC主分类号", "IPC分类号", "引用专利", "权利要求数量", "法律状态/事件", "专利类型"]
    himmpat = [" 公开（公告）号 ", "申请号", "申请日", "公开（公告）日", "名称", "申请（专利权）人", "发明（设计）人",
               "申请人地址", "主分类号", "IPC分类号", "引证专利", "权利要求项数", "简单法律状态", "文献类型"]
    maps = [map_headers(h, PATENT_HEADERS) for h in (cnipa, incopat, patsnap, himmpat)]
    for mapped in maps:
        assert mapped.unmapped == []
        assert set(mapped.columns) == set(maps[0].columns)


def test_cnki_style_prefixed_headers_and_fallback_order():
    mapped = map_headers(["title_专利名称", "applicant_申请人", "application_date_申请日", "publication_number",
                          "授权公告号", "href"], PATENT_HEADERS)
    assert mapped.columns["title"] == [0]
    assert mapped.columns["application_date"] == [2]
    assert mapped.columns["publication_number"] == [3, 4]  # 公开号 first, 授权公告号 fills its gaps
    assert mapped.unmapped == ["href"]


def test_english_registry_headers():
    mapped = map_headers(["Company Name", "Unified Social Credit Code", "Former Names", "Status"], FIRM_HEADERS)
    assert set(mapped.columns) == {"name", "firm_id", "former_names", "status"}

"""Classification throughput on synthetic patents, and chain coverage on the real samples.

    .venv/bin/python bench/bench_classify.py                 # 1,000,000 synthetic patents, 4 chains
    .venv/bin/python bench/bench_classify.py -n 100000       # smaller
    .venv/bin/python bench/bench_classify.py --samples-only  # coverage on ../shared/data only
    .venv/bin/python bench/bench_classify.py --samples-only --spot-check 20 --seed 5
        # and, per chain, node counts plus 20 random assignments (title, node, matched clause)

Synthetic patents: 1–5 IPC codes (Zipf-weighted over ~12k codes: subgroups near the chains' codes
plus codes from all sections), CPC lists on about half (US-style), Chinese or English titles and
~300-character abstracts built from technical phrases, some of which are chain keywords.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.workspace import Workspace  # noqa: E402
from industry_chains import load_chains, run_classify  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"

CHAIN_SUBCLASSES = [
    "G06N", "G06V", "G06T", "G06F", "G10L", "G06Q", "G16H", "B25J", "B60W", "B64U", "A61K", "A61P", "C07D",
    "C07K", "C12N", "C12Q", "A61B", "A61F", "A61M", "A61N", "G01N", "H04W", "H04L", "H04B", "H01Q", "H03F",
    "H03H", "H04M", "G05B", "G05D", "B23K", "B23Q", "B33Y", "B65G", "F16H", "F15B", "H02P", "G01B",
]
OTHER_SUBCLASSES = [
    "A01B", "A23L", "A47L", "B01D", "B29C", "B32B", "B60L", "B65D", "C02F", "C04B", "C08K", "C08L", "C09D",
    "C22C", "D06F", "E02D", "E04B", "E04G", "E21B", "F01D", "F02M", "F16K", "F16L", "F21V", "F24F", "F25D",
    "G01R", "G01S", "G02B", "G03F", "G08G", "G09G", "H01L", "H01M", "H02J", "H02K", "H05K", "Y02E",
]
ZH_PHRASES = [
    "一种", "基于深度学习的", "神经网络", "图像识别方法", "人脸识别", "语音识别", "知识图谱", "自动驾驶", "无人机",
    "基站", "波束赋形", "资源分配", "核心网", "网络切片", "边缘计算", "滤波器", "天线阵列", "移动终端",
    "单克隆抗体", "疫苗", "中药组合物", "缓释制剂", "体外诊断试剂盒", "手术机器人", "医用敷料", "基因检测",
    "工业机器人", "机械臂", "数控系统", "激光切割", "增材制造", "立体仓库", "伺服电机", "谐波减速器", "智能工厂",
    "混凝土", "洗衣机", "电池", "显示面板", "空调", "阀门", "管道", "装置", "系统", "方法", "及其制备方法",
    "本发明公开了", "其特征在于", "包括", "用于", "提高了效率", "降低成本", "结构简单",
]
EN_PHRASES = [
    "method", "system", "apparatus", "neural network", "machine learning", "deep learning", "image recognition",
    "speech recognition", "autonomous vehicle", "base station", "beamforming", "resource allocation",
    "network slicing", "user equipment", "antenna array", "monoclonal antibody", "vaccine", "drug delivery",
    "surgical robot", "in vitro diagnostic", "industrial robot", "gripper", "numerical control", "laser cutting",
    "additive manufacturing", "servo motor", "digital twin", "battery", "display panel", "washing machine",
    "valve", "pipe", "composition", "for", "and", "using", "based on", "a", "the", "of", "with",
]


def synthesise(n: int, seed: int = 7, abstract_chars: int = 300) -> pa.Table:
    rng = np.random.default_rng(seed)
    pool = []
    for subclass in CHAIN_SUBCLASSES * 3 + OTHER_SUBCLASSES:
        for group in rng.choice([1, 3, 5, 7, 9, 10, 13, 15, 16, 19, 20, 21, 27, 31, 33, 36, 39, 40, 72], 8):
            pool.extend(f"{subclass}{group}/{sub}" for sub in ("00", "02", "04", "08", "063", "16", "418", "7264"))
    pool = np.array(sorted(set(pool)))
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())

    def code_lists(lengths: np.ndarray) -> pa.Array:
        picks = rng.choice(len(pool), size=int(lengths.sum()), p=weights).astype(np.int32)
        codes = pa.DictionaryArray.from_arrays(pa.array(picks), pa.array(pool)).cast(pa.string())
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), codes)

    ipc = code_lists(rng.integers(1, 6, n))
    cpc = code_lists(rng.integers(0, 9, n) * (rng.random(n) < 0.5))
    # a few thousand distinct texts, drawn per patent: every row is still scanned in full
    words = max(abstract_chars // 6, 1)
    texts = {
        "title": (_sentences(rng, ZH_PHRASES, 4, ""), _sentences(rng, EN_PHRASES, 6, " ")),
        "abstract": (_sentences(rng, ZH_PHRASES, words, ""), _sentences(rng, EN_PHRASES, words, " ")),
    }
    chinese = rng.random(n) < 0.6
    columns = {}
    for name, (zh, en) in texts.items():
        choice = rng.integers(0, len(zh), n)
        values = pa.array(np.concatenate([zh, en]))
        columns[name] = values.take(pa.array(np.where(chinese, choice, choice + len(zh))))
    empty = pa.array([[]] * n, pa.list_(pa.string()))
    return pa.table({
        "publication_number": pa.array([f"CN{100000000 + i}A" for i in range(n)]),
        "application_number": pa.nulls(n, pa.string()),
        "kind": pa.array(["A"] * n),
        "patent_type": pa.array(["invention"] * n),
        "title": columns["title"],
        "abstract": columns["abstract"],
        "application_date": pa.nulls(n, pa.date32()),
        "publication_date": pa.nulls(n, pa.date32()),
        "ipc": ipc,
        "cpc": cpc,
        "applicants": empty,
        "applicant_addresses": empty,
        "inventors": empty,
        "cited_publications": empty,
        "claims_count": pa.nulls(n, pa.int32()),
        "legal_status": pa.nulls(n, pa.string()),
        "source_file": pa.array(["synthetic"] * n),
        "source_position": pa.array(np.arange(1, n + 1)),
    })


def _sentences(rng, phrases: list[str], length: int, sep: str, distinct: int = 4000) -> np.ndarray:
    """`distinct` texts of `length` phrases; generic phrases are 6× likelier than chain keywords."""
    generic = {"一种", "装置", "系统", "方法", "及其制备方法", "本发明公开了", "其特征在于", "包括", "用于", "提高了效率",
               "降低成本", "结构简单", "混凝土", "洗衣机", "电池", "显示面板", "空调", "阀门", "管道", "method",
               "system", "apparatus", "battery", "display panel", "washing machine", "valve", "pipe",
               "composition", "for", "and", "using", "based on", "a", "the", "of", "with"}
    weights = np.array([6.0 if phrase in generic else 1.0 for phrase in phrases])
    picks = rng.choice(len(phrases), size=(distinct, length), p=weights / weights.sum())
    return np.array([sep.join(phrases[i] for i in row) for row in picks], dtype=object)


def bench(n: int, abstract_chars: int) -> None:
    started = time.perf_counter()
    table = synthesise(n, abstract_chars=abstract_chars)
    print(f"synthesised {n:,} patents in {time.perf_counter() - started:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(tmp)
        workspace.write("patents", table, "bench")
        del table
        chains = load_chains()
        report = run_classify(workspace, "bench-classify")
    print(f"classified {n:,} patents into {sum(len(c.nodes) for c in chains)} nodes of {len(chains)} chains"
          f" in {report.seconds:.1f}s (incl. reading patents, writing tables): {n / report.seconds:,.0f} patents/s")
    print(f"node_patents rows: {report.node_patent_rows:,}")
    for chain_id in report.classified_by_chain:
        print(f"  {chain_id:4s} coverage {report.coverage(chain_id):6.1%}")


def samples(spot_check: int = 0, seed: int = 5) -> None:
    """Per-chain coverage on the real patent samples in ../shared/data; with `spot_check`, per chain
    the node counts and that many random assignments (seeded) with the clause that put them there."""
    if not SHARED.exists():
        print(f"{SHARED} not present: skipping the real samples")
        return
    chains = load_chains()
    read = 0
    assigned: list[pd.DataFrame] = []
    for label, fill in _real_samples():
        with tempfile.TemporaryDirectory() as tmp:
            workspace = Workspace(tmp)
            fill(workspace)
            report = _print_coverage(label, workspace)
            titles = workspace.read_df("patents", columns=["publication_number", "title"])
            rows = workspace.read_df("node_patents").merge(titles, on="publication_number", how="left")
        read += report.patents_read
        assigned.append(rows.assign(sample=label.split(" ")[0]))
    rows = pd.concat(assigned, ignore_index=True)
    print(f"all samples: {read} patents; " + ", ".join(
        f"{chain.id} {rows.loc[rows['chain_id'] == chain.id, 'publication_number'].nunique() / read:.1%}"
        for chain in chains))
    if spot_check:
        _print_spot_checks(chains, rows, spot_check, seed)


def _real_samples():
    """(label, fill) for every patent sample in ../shared/data; `fill(workspace)` writes its `patents`."""
    from ingest import ingest_patents

    def ingested(path: Path):
        return lambda workspace: ingest_patents(workspace, [path], "bench-ingest")

    def written(load):
        return lambda workspace: workspace.write("patents", load(), "bench-ingest")

    return [
        ("cn_cnipa_style_sample (IPC + abstract)", ingested(SHARED / "cn_cnipa_style_sample" / "cnipa_style_patents.csv")),
        ("cn_cnki_patents_sample (keywords only)", ingested(SHARED / "cn_cnki_patents_sample")),
        ("uspto_grant_xml_pvdb (IPC + title + abstract; designs have no IPC)", ingested(SHARED / "uspto_grant_xml_pvdb")),
        ("uspto_grant_biblio_alexandria3k (IPC + CPC + title)", ingested(SHARED / "uspto_grant_biblio_alexandria3k")),
        ("uspto_samples_patentpublicdata (the XML formats ingest reads)", ingested(SHARED / "uspto_samples_patentpublicdata")),
        # the ingest stage does not read these layouts, so local loaders build their rows
        ("us_ai_pgpub_tsukoyami (title only)", written(_tsukoyami_sample)),
        ("pv_assignee_hand_disamb (CPC + title + abstract)", written(_patentsview_sample)),
        ("epo_ep_fulltext_xml (IPC + title + abstract)", written(_epo_sample)),
    ]


def _print_coverage(label: str, workspace: Workspace):
    report = run_classify(workspace, "bench-classify")
    shares = ", ".join(f"{chain} {report.coverage(chain):.0%}" for chain in report.classified_by_chain)
    print(f"{label}: {report.patents_read} patents; {shares}")
    top = sorted((n for n in report.nodes if n.patent_count), key=lambda n: -n.patent_count)[:6]
    print("   top nodes: " + ", ".join(f"{n.node_id} {n.patent_count}" for n in top))
    return report


def _print_spot_checks(chains, rows: pd.DataFrame, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for chain in chains:
        mine = rows[rows["chain_id"] == chain.id].reset_index(drop=True)
        print(f"\n## {chain.id} ({chain.name_en}): {len(mine)} assignments of"
              f" {mine['publication_number'].nunique()} patents")
        counts = mine["node_id"].value_counts()
        print("node counts: " + (", ".join(f"{node} {count}" for node, count in counts.items()) or "none"))
        picked = mine.iloc[np.sort(rng.choice(len(mine), size=min(size, len(mine)), replace=False))]
        print(f"\n{len(picked)} random assignments (seed {seed}):\n")
        print("| # | sample | patent | title | node | matched clause |\n|---|---|---|---|---|---|")
        for number, row in enumerate(picked.itertuples(), 1):
            title = " ".join(str(row.title).split())
            title = title if len(title) <= 90 else title[:89] + "…"
            print(f"| {number} | {row.sample} | {row.publication_number} | {title.replace('|', '/')}"
                  f" | {row.node_id} | `{row.matched_rule}` |")


def _tsukoyami_sample() -> pd.DataFrame:
    rows = pd.read_csv(SHARED / "us_ai_pgpub_tsukoyami" / "ai_patents.csv", dtype=str)
    frame = pd.DataFrame({"publication_number": "US" + rows["Patent Number"], "title": rows["Title"]})
    return _with_empty_fields(frame.drop_duplicates("publication_number"), "ai_patents.csv")


def _patentsview_sample() -> pd.DataFrame:
    """PatentsView rows (one per patent × assignee × CPC × inventor) folded to one row per patent."""
    rows = pd.read_csv(SHARED / "pv_assignee_hand_disamb" / "samples_with_data.csv", dtype=str)
    grouped = rows.groupby("patent_id", sort=True)
    frame = grouped.agg(title=("title", "first"), abstract=("abstract", "first")).reset_index()
    frame["cpc"] = grouped["cpc_subgroup_id"].agg(lambda s: list(dict.fromkeys(s.dropna()))).values
    frame["publication_number"] = "US" + frame["patent_id"]
    return _with_empty_fields(frame, "samples_with_data.csv")


def _epo_sample() -> pd.DataFrame:
    """EP publications (DTD v1.0–v1.5.1): English title and abstract when given, IPC from ipcr or B511/B512."""
    from lxml import etree

    rows = []
    for path in sorted((SHARED / "epo_ep_fulltext_xml").glob("*.xml")):
        root = etree.parse(str(path), etree.XMLParser(load_dtd=False, no_network=True, recover=True)).getroot()
        if root is None or root.tag != "ep-patent-document":
            continue
        titles = root.xpath("//B540/B542")
        languages = [" ".join(node.itertext()).strip() for node in root.xpath("//B540/B541")]
        title = next((" ".join(t.itertext()) for t, lang in zip(titles, languages, strict=False) if lang == "en"),
                     " ".join(titles[0].itertext()) if titles else None)
        abstracts = sorted(root.xpath("//abstract"), key=lambda node: node.get("lang") != "en")  # English first
        abstract = " ".join(" ".join(abstracts[0].itertext()).split()) if abstracts else None
        codes = root.xpath("//classification-ipcr/text/text()") + root.xpath("//B511/text() | //B512/text()")
        ipc = list(dict.fromkeys(re.sub(r"\s", "", found) for text in codes for found in _EP_IPC.findall(text)))
        rows.append({"publication_number": f"EP{root.get('doc-number')}{root.get('kind')}", "title": title,
                     "abstract": abstract, "ipc": [_slash_group(code) for code in ipc]})
    return _with_empty_fields(pd.DataFrame(rows).drop_duplicates("publication_number"), "epo_ep_fulltext_xml")


_EP_IPC = re.compile(r"[A-HY]\s*\d\d\s*[A-Z]\s*\d{1,4}\s*/\s*\d{1,6}")  # "H01F  27/14 …", " 7C 07C  29/44   A"


def _slash_group(code: str) -> str:
    """'C07D271/113' with the group's leading zeros dropped (as ingest writes codes)."""
    subclass, group = code[:4], code[4:]
    number, subgroup = group.split("/")
    return f"{subclass}{int(number)}/{subgroup}"


def _with_empty_fields(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["source_position"] = range(1, len(frame) + 1)
    frame["source_file"] = source
    frame["patent_type"] = "unknown"
    for column in ("ipc", "cpc", "applicants", "applicant_addresses", "inventors", "cited_publications"):
        if column not in frame:
            frame[column] = [[] for _ in range(len(frame))]
    for column in ("abstract", "application_number", "kind", "application_date", "publication_date",
                   "claims_count", "legal_status"):
        if column not in frame:
            frame[column] = None
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--patents", type=int, default=1_000_000, help="synthetic patents (default 1,000,000)")
    parser.add_argument("--abstract-chars", type=int, default=300, help="approximate abstract length")
    parser.add_argument("--samples-only", action="store_true", help="only the real-sample coverage")
    parser.add_argument("--spot-check", type=int, default=0, metavar="K",
                        help="per chain on the real samples: node counts and K random assignments")
    parser.add_argument("--seed", type=int, default=5, help="seed of the spot-check draw (default 5)")
    args = parser.parse_args()
    if not args.samples_only:
        bench(args.patents, args.abstract_chars)
    samples(args.spot_check, args.seed)


if __name__ == "__main__":
    main()

"""An illustrative IPC -> GB/T 4754 concordance: the 门类 / 大类 an IPC class most often belongs to.

Not an official table (the national IPC-industry concordance is finer and many-to-many): a short list of the
prefixes the office's stock uses most, each mapped to one (门类, 大类) with a fixed confidence, longest prefix first.
"""

from __future__ import annotations

import re

IPC_CONFIDENCE = 0.7
"""The confidence given to a sector read from the IPC table (a fixed prior, not learned)."""

_MANUFACTURING = "制造业"
# prefix -> (门类, 大类); 大类 names as the zhibei market writes them
IPC_TABLE: dict[str, tuple[str, str]] = {
    "A01K": ("农、林、牧、渔业", "畜牧业"),
    "A01": ("农、林、牧、渔业", "农业"),
    "A21": (_MANUFACTURING, "食品制造业"),
    "A23": (_MANUFACTURING, "食品制造业"),
    "A24": (_MANUFACTURING, "烟草制品业"),
    "A41": (_MANUFACTURING, "纺织服装、服饰业"),
    "A43": (_MANUFACTURING, "皮革毛皮羽毛及其制品和制鞋业"),
    "A47": (_MANUFACTURING, "家具制造业"),
    "A61B": (_MANUFACTURING, "专用设备制造业"),
    "A61F": (_MANUFACTURING, "专用设备制造业"),
    "A61M": (_MANUFACTURING, "专用设备制造业"),
    "A61N": (_MANUFACTURING, "专用设备制造业"),
    "A61": (_MANUFACTURING, "医药制造业"),
    "A63": (_MANUFACTURING, "文教工美体育和娱乐用品制造业"),
    "B01": (_MANUFACTURING, "专用设备制造业"),
    "B21": (_MANUFACTURING, "通用设备制造业"),
    "B22": (_MANUFACTURING, "有色金属冶炼和压延加工业"),
    "B23": (_MANUFACTURING, "通用设备制造业"),
    "B24": (_MANUFACTURING, "通用设备制造业"),
    "B25": (_MANUFACTURING, "通用设备制造业"),
    "B27": (_MANUFACTURING, "木材加工和木、竹、藤、棕、草制品业"),
    "B29": (_MANUFACTURING, "橡胶和塑料制品业"),
    "B60": (_MANUFACTURING, "汽车制造业"),
    "B61": (_MANUFACTURING, "铁路、船舶、航空航天和其他运输"),
    "B62D": (_MANUFACTURING, "汽车制造业"),
    "B63": (_MANUFACTURING, "铁路、船舶、航空航天和其他运输"),
    "B64": (_MANUFACTURING, "铁路、船舶、航空航天和其他运输"),
    "B65": (_MANUFACTURING, "通用设备制造业"),
    "C01": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C02F": ("水利、环境和公共设施管理业", "生态保护和环境治理业"),
    "C04B": (_MANUFACTURING, "非金属矿物制品业"),
    "C05": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C07": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C08": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C09": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C10": (_MANUFACTURING, "石油、煤炭及其他燃料加工业"),
    "C11": (_MANUFACTURING, "化学原料和化学制品制造业"),
    "C12": (_MANUFACTURING, "医药制造业"),
    "C21": (_MANUFACTURING, "黑色金属冶炼和压延加工业"),
    "C22": (_MANUFACTURING, "有色金属冶炼和压延加工业"),
    "C23": (_MANUFACTURING, "金属制品业"),
    "C25": (_MANUFACTURING, "金属制品业"),
    "D01": (_MANUFACTURING, "化学纤维制造业"),
    "D0": (_MANUFACTURING, "纺织业"),
    "D21": (_MANUFACTURING, "造纸和纸制品业"),
    "E01": ("建筑业", "土木工程建筑业"),
    "E02": ("建筑业", "土木工程建筑业"),
    "E03": ("水利、环境和公共设施管理业", "水利管理业"),
    "E04": ("建筑业", "房屋建筑业"),
    "E21": ("采矿业", "开采专业及辅助性活动"),
    "F01": (_MANUFACTURING, "通用设备制造业"),
    "F02": (_MANUFACTURING, "通用设备制造业"),
    "F03": (_MANUFACTURING, "电气机械和器材制造业"),
    "F04": (_MANUFACTURING, "通用设备制造业"),
    "F16": (_MANUFACTURING, "通用设备制造业"),
    "F24S": (_MANUFACTURING, "电气机械和器材制造业"),
    "F2": (_MANUFACTURING, "通用设备制造业"),
    "G01": (_MANUFACTURING, "仪器仪表制造业"),
    "G05": (_MANUFACTURING, "仪器仪表制造业"),
    "G06": ("信息传输、软件和信息技术服务业", "软件和信息技术服务业"),
    "G08": ("信息传输、软件和信息技术服务业", "软件和信息技术服务业"),
    "G09": ("信息传输、软件和信息技术服务业", "软件和信息技术服务业"),
    "G10L": ("信息传输、软件和信息技术服务业", "软件和信息技术服务业"),
    "G16": ("信息传输、软件和信息技术服务业", "软件和信息技术服务业"),
    "H01M": (_MANUFACTURING, "电气机械和器材制造业"),
    "H01": (_MANUFACTURING, "计算机、通信和其他电子设备制造"),
    "H02": (_MANUFACTURING, "电气机械和器材制造业"),
    "H03": (_MANUFACTURING, "计算机、通信和其他电子设备制造"),
    "H04": (_MANUFACTURING, "计算机、通信和其他电子设备制造"),
    "H05B": (_MANUFACTURING, "电气机械和器材制造业"),
    "H05K": (_MANUFACTURING, "计算机、通信和其他电子设备制造"),
    "H10": (_MANUFACTURING, "计算机、通信和其他电子设备制造"),
}
_PREFIXES = sorted(IPC_TABLE, key=len, reverse=True)
_SPACE = re.compile(r"\s+")


def ipc_sector(ipc: object) -> tuple[str, str]:
    """The (门类, 大类) of a record's first IPC code by the table's longest matching prefix.

    Args:
        ipc: an IPC cell such as "C08L 67/04" or "H01M 4/525; H01M 10/0525" (the first code counts).

    Returns:
        (门类, 大类), or ("", "") when the cell is empty or no prefix matches.
    """
    first = re.split(r"[;；,，、]", str(ipc or ""))[0]
    code = _SPACE.sub("", first).upper()
    for prefix in _PREFIXES:
        if code.startswith(prefix):
            return IPC_TABLE[prefix]
    return "", ""

"""Vocabulary for the synthetic demo-data generator (ingest.generator).

Everything here is written by hand for the demo: place names and well-known university and
institute names are public vocabulary; all firms, people, patents and codes built from them
are invented.
"""

from __future__ import annotations

# (province, city, short city name, pinyin, postcode prefix, city admin code, districts)
# districts: (name, 6-digit admin code); development zones use the city code, as registries do.
CITIES: tuple[tuple[str, str, str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("北京市", "北京市", "北京", "Beijing", "100", "110100",
     (("海淀区", "110108"), ("朝阳区", "110105"), ("昌平区", "110114"), ("大兴区", "110115"))),
    ("上海市", "上海市", "上海", "Shanghai", "200", "310100",
     (("浦东新区", "310115"), ("闵行区", "310112"), ("徐汇区", "310104"), ("嘉定区", "310114"))),
    ("天津市", "天津市", "天津", "Tianjin", "300", "120100", (("滨海新区", "120116"), ("西青区", "120111"))),
    ("重庆市", "重庆市", "重庆", "Chongqing", "401", "500100", (("渝北区", "500112"), ("九龙坡区", "500107"))),
    ("广东省", "深圳市", "深圳", "Shenzhen", "518", "440300",
     (("南山区", "440305"), ("福田区", "440304"), ("宝安区", "440306"), ("龙岗区", "440307"),
      ("龙华区", "440309"))),
    ("广东省", "广州市", "广州", "Guangzhou", "510", "440100",
     (("天河区", "440106"), ("黄埔区", "440112"), ("番禺区", "440113"))),
    ("广东省", "东莞市", "东莞", "Dongguan", "523", "441900", (("松山湖高新区", "441900"), ("长安镇", "441900"))),
    ("广东省", "佛山市", "佛山", "Foshan", "528", "440600", (("顺德区", "440606"), ("南海区", "440605"))),
    ("江苏省", "苏州市", "苏州", "Suzhou", "215", "320500",
     (("苏州工业园区", "320500"), ("吴中区", "320506"), ("相城区", "320507"), ("昆山市", "320583"))),
    ("江苏省", "南京市", "南京", "Nanjing", "210", "320100",
     (("江宁区", "320115"), ("鼓楼区", "320106"), ("栖霞区", "320113"))),
    ("江苏省", "无锡市", "无锡", "Wuxi", "214", "320200", (("新吴区", "320214"), ("滨湖区", "320211"))),
    ("浙江省", "杭州市", "杭州", "Hangzhou", "310", "330100",
     (("滨江区", "330108"), ("西湖区", "330106"), ("余杭区", "330110"))),
    ("浙江省", "宁波市", "宁波", "Ningbo", "315", "330200", (("鄞州区", "330212"), ("北仑区", "330206"))),
    ("湖北省", "武汉市", "武汉", "Wuhan", "430", "420100",
     (("东湖新技术开发区", "420100"), ("洪山区", "420111"), ("江夏区", "420115"))),
    ("四川省", "成都市", "成都", "Chengdu", "610", "510100",
     (("高新区", "510100"), ("武侯区", "510107"), ("双流区", "510116"))),
    ("安徽省", "合肥市", "合肥", "Hefei", "230", "340100",
     (("高新区", "340100"), ("蜀山区", "340104"), ("包河区", "340111"))),
    ("陕西省", "西安市", "西安", "Xi'an", "710", "610100",
     (("雁塔区", "610113"), ("高新区", "610100"), ("长安区", "610116"))),
    ("山东省", "济南市", "济南", "Jinan", "250", "370100", (("历下区", "370102"), ("高新区", "370100"))),
    ("山东省", "青岛市", "青岛", "Qingdao", "266", "370200", (("崂山区", "370212"), ("黄岛区", "370211"))),
    ("湖南省", "长沙市", "长沙", "Changsha", "410", "430100", (("岳麓区", "430104"), ("雨花区", "430111"))),
    ("福建省", "厦门市", "厦门", "Xiamen", "361", "350200", (("思明区", "350203"), ("湖里区", "350206"))),
    ("辽宁省", "沈阳市", "沈阳", "Shenyang", "110", "210100", (("浑南区", "210112"), ("和平区", "210102"))),
    ("河南省", "郑州市", "郑州", "Zhengzhou", "450", "410100", (("金水区", "410105"), ("高新区", "410100"))),
)
# Tech firms cluster in a few cities: relative weights, aligned with CITIES.
CITY_WEIGHTS = (14, 12, 3, 3, 16, 7, 4, 3, 7, 6, 3, 9, 3, 5, 5, 4, 4, 2, 2, 2, 2, 1, 1)

ROADS = (
    "科技路", "创新大道", "高新大道", "软件园路", "学府路", "工业园路", "滨河路", "文化路", "科苑路",
    "光谷大道", "星湖街", "天府大道", "智慧路", "东方路", "长江路", "金桥路", "仙林大道", "望江路",
    "中关村大街", "张江路", "松山湖大道", "西部大道", "创业路", "未来路", "云谷路", "振兴路",
)
BUILDINGS = ("产业园", "科技园", "创新中心", "大厦", "孵化器", "研发中心", "智造园", "国际广场")
HOUSING = ("花园", "小区", "家园", "公寓", "新村", "名苑")

# Brand syllables with pinyin (for English names). Brand words are 2-4 of these.
BRAND_SYLLABLES: tuple[tuple[str, str], ...] = (
    ("华", "hua"), ("兴", "xing"), ("瑞", "rui"), ("智", "zhi"), ("联", "lian"), ("创", "chuang"),
    ("达", "da"), ("芯", "xin"), ("源", "yuan"), ("恒", "heng"), ("泰", "tai"), ("博", "bo"),
    ("微", "wei"), ("睿", "rui"), ("天", "tian"), ("海", "hai"), ("康", "kang"), ("安", "an"),
    ("信", "xin"), ("通", "tong"), ("鑫", "xin"), ("盛", "sheng"), ("嘉", "jia"), ("凯", "kai"),
    ("腾", "teng"), ("云", "yun"), ("拓", "tuo"), ("维", "wei"), ("思", "si"), ("晨", "chen"),
    ("宇", "yu"), ("航", "hang"), ("优", "you"), ("易", "yi"), ("捷", "jie"), ("和", "he"),
    ("融", "rong"), ("星", "xing"), ("光", "guang"), ("锐", "rui"), ("新", "xin"), ("元", "yuan"),
    ("立", "li"), ("德", "de"), ("正", "zheng"), ("汇", "hui"), ("佳", "jia"), ("明", "ming"),
    ("启", "qi"), ("迈", "mai"), ("普", "pu"), ("诺", "nuo"), ("奥", "ao"), ("贝", "bei"),
    ("宁", "ning"), ("景", "jing"), ("驰", "chi"), ("峰", "feng"), ("图", "tu"), ("灵", "ling"),
    ("鸿", "hong"), ("卓", "zhuo"), ("越", "yue"), ("科", "ke"), ("聚", "ju"), ("弘", "hong"),
    ("远", "yuan"), ("致", "zhi"), ("精", "jing"), ("准", "zhun"), ("朗", "lang"), ("逸", "yi"),
    ("昊", "hao"), ("澜", "lan"), ("极", "ji"), ("速", "su"), ("擎", "qing"), ("矩", "ju"),
    ("阵", "zhen"), ("翼", "yi"), ("麒", "qi"), ("麟", "lin"), ("金", "jin"), ("石", "shi"),
)
# Look-alike or sound-alike characters for one-character typos in applicant names.
TYPO_CHARS = {
    "华": "化", "兴": "星", "瑞": "锐", "智": "知", "联": "连", "创": "仓", "达": "大", "芯": "心",
    "源": "原", "恒": "衡", "泰": "太", "博": "搏", "微": "徽", "睿": "叡", "天": "夭", "康": "糠",
    "信": "倍", "通": "同", "鑫": "馨", "盛": "胜", "嘉": "佳", "凯": "铠", "腾": "滕", "云": "芸",
    "维": "惟", "思": "恩", "晨": "辰", "宇": "字", "航": "杭", "捷": "婕", "融": "熔", "锐": "瑞",
    "科": "料", "技": "枝", "电": "由", "医": "匡", "药": "葯", "械": "戒", "精": "晴",
}

# Topics: the four chains plus "other" (negatives for classification).
TOPICS = ("ai", "biomed", "5g", "smart_mfg", "other")
TOPIC_WEIGHTS = (29, 21, 19, 20, 11)

# Industry words in firm names, with English, and GB/T 4754-2017 industry codes.
INDUSTRY_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "ai": (("科技", "Technology"), ("智能科技", "Intelligent Technology"), ("人工智能科技", "AI Technology"),
           ("信息技术", "Information Technology"), ("软件", "Software"), ("数据科技", "Data Technology"),
           ("视觉科技", "Vision Technology"), ("半导体", "Semiconductor")),
    "biomed": (("生物医药", "Biopharmaceutical"), ("医药科技", "Pharmaceutical Technology"),
               ("制药", "Pharmaceutical"), ("生物科技", "Biotechnology"), ("医疗器械", "Medical Devices"),
               ("生物技术", "Biotech"), ("药业", "Pharma")),
    "5g": (("通信", "Communication"), ("通信技术", "Communication Technology"), ("电子", "Electronics"),
           ("微电子", "Microelectronics"), ("网络技术", "Network Technology"), ("射频科技", "RF Technology"),
           ("半导体", "Semiconductor")),
    "smart_mfg": (("机器人", "Robotics"), ("精密机械", "Precision Machinery"), ("智能装备", "Intelligent Equipment"),
                  ("自动化设备", "Automation Equipment"), ("智能制造", "Intelligent Manufacturing"),
                  ("激光科技", "Laser Technology"), ("数控科技", "CNC Technology"), ("机械", "Machinery")),
    "other": (("家居用品", "Household Products"), ("建材", "Building Materials"), ("厨具", "Kitchenware"),
              ("建筑工程", "Construction Engineering"), ("家具", "Furniture"), ("环保科技", "Environmental Technology")),
}
INDUSTRY_CODES: dict[str, tuple[str, ...]] = {
    "ai": ("I6513 应用软件开发", "I6511 基础软件开发", "I6531 信息系统集成服务", "I6520 集成电路设计"),
    "biomed": ("C2761 生物药品制造", "C2720 化学药品制剂制造", "C2740 中成药生产", "C3581 医疗诊断、监护及治疗设备制造",
               "M7340 医学研究和试验发展"),
    "5g": ("C3921 通信系统设备制造", "C3922 通信终端设备制造", "C3973 集成电路制造", "C3982 电子电路制造"),
    "smart_mfg": ("C3491 工业机器人制造", "C3421 金属切削机床制造", "C3424 金属切割及焊接设备制造",
                  "C4011 工业自动控制系统装置制造"),
    "other": ("C3854 家用厨房电器具制造", "E4790 其他房屋建筑业", "C2110 木质家具制造", "C3039 其他建筑材料制造"),
}
HOLDING_INDUSTRY = "L7212 投资与资产管理"

# Legal forms: (name, English, weight); 有限责任公司 is the long form of 有限公司.
LEGAL_FORMS = (("有限公司", "Co., Ltd.", 70), ("有限责任公司", "Co., Ltd.", 12), ("股份有限公司", "Co., Ltd.", 14),
               ("集团有限公司", "Group Co., Ltd.", 4))
LEGAL_FORM_VARIANTS = {"有限公司": "有限责任公司", "有限责任公司": "有限公司", "股份有限公司": "股份公司",
                       "集团有限公司": "集团公司"}

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高",
    "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁",
    "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔",
    "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦",
    "邱", "江", "尹", "薛", "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵",
    "万", "钱", "严", "覃", "武", "戴", "莫", "孔", "向", "汤", "欧阳", "司马", "诸葛", "上官",
)
GIVEN_CHARS = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞",
    "平", "刚", "华", "建", "志", "文", "斌", "宇", "浩", "凯", "鹏", "晨", "欣", "婷", "雪", "琳", "峰", "波",
    "辉", "健", "俊", "海", "林", "翔", "颖", "倩", "梅", "玲", "博", "昊", "轩", "然", "子", "嘉", "思", "一",
    "佳", "宏", "东", "国", "红", "春", "晓", "立", "新", "永", "德", "振", "家", "金", "亮", "成", "瑶", "婉",
)

UNIVERSITIES: tuple[tuple[str, str], ...] = (  # (name, city)
    ("清华大学", "北京市"), ("北京大学", "北京市"), ("北京航空航天大学", "北京市"), ("北京邮电大学", "北京市"),
    ("北京理工大学", "北京市"), ("中国科学院大学", "北京市"), ("复旦大学", "上海市"), ("上海交通大学", "上海市"),
    ("同济大学", "上海市"), ("浙江大学", "杭州市"), ("杭州电子科技大学", "杭州市"), ("南京大学", "南京市"),
    ("东南大学", "南京市"), ("南京理工大学", "南京市"), ("南京航空航天大学", "南京市"), ("苏州大学", "苏州市"),
    ("华中科技大学", "武汉市"), ("武汉大学", "武汉市"), ("武汉理工大学", "武汉市"), ("电子科技大学", "成都市"),
    ("四川大学", "成都市"), ("西南交通大学", "成都市"), ("中国科学技术大学", "合肥市"), ("合肥工业大学", "合肥市"),
    ("西安交通大学", "西安市"), ("西安电子科技大学", "西安市"), ("西北工业大学", "西安市"), ("中山大学", "广州市"),
    ("华南理工大学", "广州市"), ("深圳大学", "深圳市"), ("南方科技大学", "深圳市"), ("天津大学", "天津市"),
    ("重庆大学", "重庆市"), ("山东大学", "济南市"), ("中南大学", "长沙市"), ("厦门大学", "厦门市"),
    ("东北大学", "沈阳市"), ("郑州大学", "郑州市"), ("中国药科大学", "南京市"), ("沈阳药科大学", "沈阳市"),
)
RESEARCH_INSTITUTES: tuple[tuple[str, str], ...] = (
    ("中国科学院自动化研究所", "北京市"), ("中国科学院计算技术研究所", "北京市"), ("中国科学院微电子研究所", "北京市"),
    ("中国科学院上海药物研究所", "上海市"), ("中国科学院深圳先进技术研究院", "深圳市"),
    ("中国科学院沈阳自动化研究所", "沈阳市"), ("中国科学院合肥物质科学研究院", "合肥市"),
    ("中国科学院苏州纳米技术与纳米仿生研究所", "苏州市"), ("中国科学院宁波材料技术与工程研究所", "宁波市"),
    ("之江实验室", "杭州市"), ("鹏城实验室", "深圳市"), ("江苏省产业技术研究院", "南京市"),
    ("中国电子科技集团公司第五十四研究所", "北京市"), ("军事医学研究院", "北京市"),
)
INSTITUTE_TOPIC_WORDS = {"ai": "人工智能研究院", "biomed": "生物医药研究院", "5g": "信息通信研究院",
                         "smart_mfg": "智能制造研究院", "other": "建筑科学研究院"}
HOSPITAL_PATTERNS = ("{city}第一人民医院", "{city}人民医院", "{city}中心医院", "{city}中医院", "{prov}人民医院")
UNIVERSITY_HOSPITALS = (
    ("浙江大学医学院附属第一医院", "杭州市"), ("中山大学附属第一医院", "广州市"), ("四川大学华西医院", "成都市"),
    ("华中科技大学同济医学院附属协和医院", "武汉市"), ("复旦大学附属中山医院", "上海市"),
    ("南京医科大学第一附属医院", "南京市"), ("西安交通大学第一附属医院", "西安市"), ("苏州大学附属第一医院", "苏州市"),
)
GOVERNMENT_PATTERNS = ("{city}气象局", "{city}公安局", "{city}生态环境局", "{city}市场监督管理局", "{short}海关",
                       "{city}交通运输局")
# Applicants that are none of the above (associations, studios): typed "unknown".
OTHER_ORG_PATTERNS = ("{city}机器人产业协会", "{city}人工智能学会", "{short}{brand}设计工作室", "{city}医药行业协会")
# Invented foreign applicants: companies, but never in the (Chinese) registry.
FOREIGN_COMPANIES: tuple[tuple[str, str], ...] = (  # (name, address as CNIPA prints it)
    ("Nordvik Systems AB", "瑞典斯德哥尔摩"), ("Kellner Robotik GmbH", "德国斯图加特"),
    ("Yamato Seiki Co., Ltd.", "日本大阪府"), ("Brightwave Networks Inc.", "美国加利福尼亚州"),
    ("Lumeris Therapeutics, Inc.", "美国马萨诸塞州"), ("Aurelian Pharma AG", "瑞士巴塞尔"),
    ("Hanseong Electronics Co., Ltd.", "韩国京畿道"), ("Quantix Vision Ltd.", "以色列特拉维夫"),
    ("Marlow Instruments plc", "英国剑桥"), ("Vesterlund Medical A/S", "丹麦哥本哈根"),
)
PROVINCE_PINYIN = {"广东": "Guangdong", "江苏": "Jiangsu", "浙江": "Zhejiang", "湖北": "Hubei", "四川": "Sichuan",
                   "安徽": "Anhui", "陕西": "Shaanxi", "山东": "Shandong", "湖南": "Hunan", "福建": "Fujian",
                   "辽宁": "Liaoning", "河南": "Henan"}

# Per topic: sub-areas, each with IPC codes (first is the usual main class) and vocabulary.
# tech/objects are (zh, en) pairs used in titles and abstracts.
SUBAREAS: dict[str, tuple[dict, ...]] = {
    "ai": (
        {"ipc": ("G06N3/08", "G06N3/04", "G06N20/00", "G06N3/045"),
         "tech": (("深度学习", "deep learning"), ("卷积神经网络", "convolutional neural network"),
                  ("注意力机制", "attention mechanism"), ("联邦学习", "federated learning")),
         "objects": (("神经网络模型训练", "neural network model training"), ("模型压缩", "model compression"),
                     ("数据标注", "data labelling"), ("强化学习决策", "reinforcement learning decision"))},
        {"ipc": ("G06V10/82", "G06V40/16", "G06T7/00", "G06V20/52"),
         "tech": (("深度学习", "deep learning"), ("卷积神经网络", "convolutional neural network"),
                  ("多尺度特征融合", "multi-scale feature fusion")),
         "objects": (("图像识别", "image recognition"), ("人脸识别", "face recognition"),
                     ("目标检测", "object detection"), ("图像分割", "image segmentation"))},
        {"ipc": ("G10L15/16", "G10L15/22", "G10L13/02", "G10L25/30"),
         "tech": (("神经网络", "neural network"), ("端到端声学模型", "end-to-end acoustic model")),
         "objects": (("语音识别", "speech recognition"), ("语音合成", "speech synthesis"),
                     ("声纹识别", "voiceprint recognition"))},
        {"ipc": ("G06F40/30", "G06F40/295", "G06F16/36", "G06N5/02"),
         "tech": (("预训练语言模型", "pre-trained language model"), ("知识图谱", "knowledge graph"),
                  ("大语言模型", "large language model")),
         "objects": (("自然语言处理", "natural language processing"), ("语义理解", "semantic understanding"),
                     ("文本分类", "text classification"), ("智能问答", "question answering"))},
        {"ipc": ("G06N3/063", "G06F15/78", "G06F9/50"),
         "tech": (("神经网络处理器", "neural network processor"), ("存算一体", "compute-in-memory")),
         "objects": (("人工智能芯片", "AI chip"), ("深度学习加速器", "deep learning accelerator"))},
    ),
    "5g": (
        {"ipc": ("H04W72/04", "H04W72/12", "H04W74/08", "H04W56/00"),
         "tech": (("基站", "base station"), ("资源调度", "resource scheduling"), ("随机接入", "random access")),
         "objects": (("无线资源分配", "radio resource allocation"), ("上行传输", "uplink transmission"),
                     ("5G新空口接入", "5G new radio access"))},
        {"ipc": ("H04B7/0413", "H04B7/06", "H04W16/28", "H04B7/0456"),
         "tech": (("大规模天线", "massive MIMO"), ("波束赋形", "beamforming"), ("多输入多输出", "MIMO")),
         "objects": (("波束管理", "beam management"), ("预编码", "precoding"), ("信道状态信息反馈", "CSI feedback"))},
        {"ipc": ("H01Q1/24", "H01Q21/00", "H04B1/40", "H01Q1/38"),
         "tech": (("毫米波", "millimetre wave"), ("射频前端", "RF front end"), ("介质滤波器", "dielectric filter")),
         "objects": (("基站天线", "base station antenna"), ("天线阵列", "antenna array"), ("射频模组", "RF module"))},
        {"ipc": ("H04L5/00", "H04L1/18", "H04L27/26", "H04L25/02"),
         "tech": (("正交频分复用", "OFDM"), ("参考信号", "reference signal"), ("混合自动重传", "HARQ")),
         "objects": (("信道估计", "channel estimation"), ("物理层信令", "physical layer signalling"))},
        {"ipc": ("H04W24/02", "H04W28/24", "H04L41/0893", "H04W4/70"),
         "tech": (("网络切片", "network slicing"), ("移动边缘计算", "mobile edge computing"), ("核心网", "core network")),
         "objects": (("5G网络管理", "5G network management"), ("服务质量保障", "quality of service assurance"))},
    ),
    "biomed": (
        {"ipc": ("A61K39/395", "C07K16/28", "C07K16/22", "A61P35/00"),
         "tech": (("单克隆抗体", "monoclonal antibody"), ("双特异性抗体", "bispecific antibody"),
                  ("抗体偶联药物", "antibody-drug conjugate")),
         "objects": (("肿瘤免疫治疗", "tumour immunotherapy"), ("PD-1靶点", "PD-1 target"),
                     ("抗原结合片段", "antigen-binding fragment"))},
        {"ipc": ("A61K31/4439", "C07D401/14", "A61P35/00", "C07D471/04"),
         "tech": (("小分子抑制剂", "small molecule inhibitor"), ("激酶抑制剂", "kinase inhibitor"),
                  ("杂环化合物", "heterocyclic compound")),
         "objects": (("抗肿瘤药物", "antitumour drug"), ("药物组合物", "pharmaceutical composition"))},
        {"ipc": ("A61K36/8969", "A61K36/48", "A61P1/16", "A61K36/258"),
         "tech": (("中药组合物", "traditional Chinese medicine composition"), ("中药提取物", "herbal extract")),
         "objects": (("护肝制剂", "liver-protecting preparation"), ("颗粒剂", "granule"), ("制备方法", "preparation"))},
        {"ipc": ("C12N15/113", "C12N15/86", "C12Q1/6883", "A61K48/00"),
         "tech": (("小干扰RNA", "siRNA"), ("基因编辑", "gene editing"), ("mRNA疫苗", "mRNA vaccine")),
         "objects": (("基因治疗", "gene therapy"), ("核酸药物递送", "nucleic acid delivery"))},
        {"ipc": ("A61B5/00", "A61B6/03", "A61B8/08", "A61M5/142", "A61M25/00"), "device": True,
         "tech": (("医学影像", "medical imaging"), ("CT成像", "CT imaging"), ("超声成像", "ultrasound imaging")),
         "objects": (("影像诊断设备", "imaging diagnosis device"), ("输注泵", "infusion pump"),
                     ("介入导管", "interventional catheter"))},
    ),
    "smart_mfg": (
        {"ipc": ("B25J9/16", "B25J11/00", "B25J15/08", "B25J19/00"),
         "tech": (("工业机器人", "industrial robot"), ("协作机器人", "collaborative robot"), ("机械臂", "robot arm")),
         "objects": (("轨迹规划", "trajectory planning"), ("末端执行器", "end effector"), ("抓取控制", "grasp control"))},
        {"ipc": ("G05B19/418", "G05B19/4155", "B23Q17/09", "G05B23/02"),
         "tech": (("数控机床", "CNC machine tool"), ("智能制造", "intelligent manufacturing"),
                  ("数字孪生", "digital twin")),
         "objects": (("生产线调度", "production line scheduling"), ("刀具磨损监测", "tool wear monitoring"))},
        {"ipc": ("B23K26/38", "B23K26/70", "B23K37/02", "B23K26/21"),
         "tech": (("激光焊接", "laser welding"), ("激光切割", "laser cutting")),
         "objects": (("焊缝跟踪", "weld seam tracking"), ("焊接工装", "welding fixture"))},
        {"ipc": ("B33Y10/00", "B33Y30/00", "B22F10/28", "B29C64/153"),
         "tech": (("增材制造", "additive manufacturing"), ("3D打印", "3D printing"),
                  ("选区激光熔化", "selective laser melting")),
         "objects": (("金属构件成形", "metal part forming"), ("铺粉装置", "powder spreading device"))},
        {"ipc": ("G01N21/88", "B65G1/137", "G05D1/02", "B65G43/08"),
         "tech": (("机器视觉", "machine vision"), ("自动导引车", "automated guided vehicle"),
                  ("智能仓储", "intelligent warehousing")),
         "objects": (("缺陷检测", "defect detection"), ("物料搬运", "material handling"), ("分拣系统", "sorting system"))},
    ),
    "other": (
        {"ipc": ("A47J27/00", "A47J36/00", "A47J43/04", "F24C15/20"),
         "tech": (("防溢", "anti-overflow"), ("快速加热", "rapid heating"), ("智能温控", "smart temperature control")),
         "objects": (("电饭煲", "rice cooker"), ("炒锅", "wok"), ("料理机", "food processor"), ("抽油烟机", "range hood"))},
        {"ipc": ("E04B1/38", "E04B2/00", "E04B5/00", "E04G21/14"),
         "tech": (("装配式", "prefabricated"), ("钢结构", "steel structure"), ("保温", "thermal insulation")),
         "objects": (("墙体", "wall"), ("楼板", "floor slab"), ("连接节点", "connection joint"))},
        {"ipc": ("A47B3/00", "A47B88/00", "A01G9/02", "A47C7/00"),
         "tech": (("折叠", "folding"), ("可调节", "adjustable")),
         "objects": (("收纳柜", "storage cabinet"), ("办公桌", "desk"), ("种植箱", "planter box"))},
    ),
}
# Fields named in abstracts ("涉及…技术领域").
TOPIC_FIELDS = {"ai": ("人工智能", "计算机视觉", "数据处理"), "5g": ("移动通信", "无线通信", "通信"),
                "biomed": ("生物医药", "医药", "医疗器械"), "smart_mfg": ("智能制造", "机械加工", "工业自动化"),
                "other": ("家用器具", "建筑", "日用品")}
EFFECTS = ("提高了识别准确率", "降低了计算开销", "提升了系统稳定性", "减少了人工干预", "缩短了处理时间",
           "提高了生产效率", "降低了成本", "增强了安全性", "提高了产品良率", "改善了用户体验")
INVENTION_FORMS = (("方法", "method"), ("方法及系统", "method and system"), ("方法、装置及存储介质",
                   "method, device and storage medium"), ("系统", "system"), ("方法及其应用", "method and use"))
DEVICE_FORMS = (("装置", "device"), ("设备", "apparatus"), ("组件", "assembly"), ("机构", "mechanism"))
DEVICE_PARTS = ("壳体", "底座", "支架", "驱动电机", "传感器", "控制模块", "连接件", "导轨", "散热组件", "固定板")
DESIGN_PRODUCTS = {"ai": ("智能音箱", "服务机器人", "识别终端"), "5g": ("基站天线罩", "通信模组", "路由器"),
                   "biomed": ("输液架", "检测仪", "药盒"), "smart_mfg": ("机器人控制柜", "焊接机", "数控机床外壳"),
                   "other": ("电饭煲", "收纳柜", "餐椅")}

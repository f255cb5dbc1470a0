package demo

// Word lists fill template slots ({fund}, {stock}…). Names of funds,
// products and institutions are invented; listed companies and indices are
// real because chats about a market without them would not look real.

var funds = []string{"汇鑫稳健收益债券A", "融盛科技创新混合C", "嘉禾沪深300ETF联接A", "港股通红利精选混合", "恒泰中短债A",
	"明远消费升级股票", "全球科技QDII(美元)", "云帆安心30天持有期债券", "鼎元先进制造混合", "长青医药健康混合A",
	"睿远双核平衡混合", "金穗中证500指数增强", "海岳新能源车ETF联接C", "润泽纯债债券A", "启航成长精选混合",
	"华晟红利低波ETF", "东岳稳盈6个月持有混合", "南屿半导体芯片指数C", "恒生科技ETF联接(QDII)", "招远可转债债券A"}

var fundsEN = []string{"Huixin Steady Income Bond A", "Rongsheng Tech Innovation Mixed C", "Jiahe CSI 300 ETF Feeder",
	"Stock Connect Dividend Select", "Hengtai Short-Term Bond", "Global Tech QDII (USD)", "Yunfan 30-Day Bond",
	"Changqing Healthcare Mixed A", "Hang Seng Tech ETF Feeder"}

var products = []string{"云帆睿享1号收益凭证", "稳盈90天理财", "鑫享增利182天", "安心盈结构性存款", "季季宝固收+", "现金宝",
	"云帆金选FOF 2期", "鑫悦私募证券投资基金", "量化中性1号", "红利优选资产管理计划"}

var stocks = []string{"贵州茅台", "宁德时代", "比亚迪", "招商银行", "中芯国际", "隆基绿能", "东方财富", "中信证券", "迈瑞医疗",
	"立讯精密", "海光信息", "寒武纪", "美的集团", "中国平安", "五粮液", "工业富联", "紫金矿业", "长江电力", "阳光电源", "药明康德"}

var hkStocks = []string{"腾讯控股", "美团-W", "阿里巴巴-W", "小米集团-W", "港交所", "友邦保险", "汇丰控股", "中国移动",
	"京东集团-SW", "快手-W", "比亚迪股份", "理想汽车-W", "中芯国际(0981)", "泡泡玛特"}

var hkStocksEN = []string{"Tencent (0700.HK)", "Meituan (3690.HK)", "Alibaba (9988.HK)", "Xiaomi (1810.HK)", "HKEX (0388.HK)",
	"AIA (1299.HK)", "HSBC (0005.HK)", "China Mobile (0941.HK)", "Pop Mart (9992.HK)"}

var techSectors = []string{"AI算力", "半导体", "消费电子", "CPO", "机器人", "服务器", "光模块"}

var usStocks = []string{"NVDA", "AAPL", "TSLA", "MSFT", "AMZN", "META", "BABA", "PDD", "TSM", "AVGO"}

var indices = []string{"上证指数", "深证成指", "创业板指", "沪深300", "科创50", "中证500", "恒生指数", "恒生科技指数", "中证1000"}

var indicesEN = []string{"the CSI 300", "the Hang Seng", "the Hang Seng Tech index", "the Shanghai Composite", "the Nasdaq", "the S&P 500"}

var sectors = []string{"半导体", "新能源", "医药", "白酒", "银行", "券商", "AI算力", "机器人", "红利", "5G手机", "消费电子", "军工",
	"黄金", "有色", "光伏", "创新药", "低空经济", "房地产", "煤炭", "游戏传媒", "CPO", "储能", "保险", "家电"}

var sectorsEN = []string{"semiconductors", "EVs", "healthcare", "consumer staples", "banks", "AI infrastructure", "robotics",
	"dividend stocks", "gold miners", "internet platforms", "solar", "biotech"}

var places = []string{"上海国金中心二期28楼", "陆家嘴环路1000号恒生银行大厦", "静安嘉里中心南区", "杭州来福士中心T2",
	"深圳平安金融中心", "北京国贸三期", "前滩太古里星巴克", "公司38楼大会议室", "香港国际金融中心", "浦东香格里拉酒店"}

var placesEN = []string{"IFC Two, 28F", "our office on Century Avenue", "the Starbucks at Qiantan Taikoo Li",
	"Kerry Centre, Jing'an", "the Four Seasons lobby", "Pacific Place, Admiralty"}

var docs = []string{"产品说明书", "风险揭示书", "基金合同", "投资者适当性告知书", "资产配置建议书", "开户资料清单",
	"税收居民身份声明", "授权委托书", "私募产品认购协议", "季度持仓报告"}

var banks = []string{"招商银行", "工商银行", "建设银行", "中国银行", "农业银行", "交通银行", "浦发银行", "中信银行", "平安银行", "兴业银行"}

var dayWords = []string{"明天", "后天", "周一", "周二", "周三", "周四", "周五", "下周一", "下周二", "下周三", "这周五", "周末"}

var timeWords = []string{"上午十点", "上午10:30", "下午两点", "下午两点半", "下午3点", "下午四点", "中午12点", "上午九点半",
	"晚上七点", "下午5点以后", "早上八点半"}

var dayEN = []string{"tomorrow", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next Monday", "next Tuesday"}

var timeEN = []string{"10am", "10:30am", "2pm", "2:30pm", "3pm", "4pm", "noon", "9:30am", "5pm"}

var riskLevels = []string{"R2（中低风险）", "R3（中风险）", "R4（中高风险）", "R3", "R2", "R4", "R5（高风险）"}
var clientRisk = []string{"C3（稳健型）", "C4（积极型）", "C2（谨慎型）", "C5（激进型）", "C3", "C4"}

var emojis = []string{"😊", "👍", "🙏", "😂", "💪", "📈", "🌹", "☕", "👌", "🤝", "😄", "🎉", "😅", "🙂", "👏", "🔥", "😭", "🤔"}

// WeCom renders these bracket codes as its built-in emoticons; users type them
// as text, so they are part of the archived content.
var wxEmoticons = []string{"[微笑]", "[抱拳]", "[强]", "[握手]", "[玫瑰]", "[OK]", "[耶]", "[呲牙]", "[偷笑]", "[捂脸]", "[奸笑]", "[机智]"}

var foods = []string{"云南米线", "日料", "潮汕牛肉火锅", "兰州拉面", "新疆菜", "轻食沙拉", "湘菜", "烤鱼", "东北饺子馆", "泰国菜"}

var events = []string{"秋季投资策略会", "高净值客户财富沙龙", "港股通投资者交流会", "养老规划讲座", "ETF投资训练营",
	"家族信托专题分享会", "科技产业链调研之旅", "红酒品鉴会"}

var cities = []string{"上海", "杭州", "深圳", "北京", "香港", "苏州", "南京"}

var meetingRooms = []string{"3801会议室", "3802会议室", "3806会议室", "2701会议室", "38楼大会议室", "小会议室A", "路演厅"}

// --- templates ---------------------------------------------------------------

// Client DM topics (wealth management).
const (
	tFund = iota
	tMarket
	tKYC
	tMeeting
	tDocs
	tTrade
	tMaturity
	tSmall
	tFees
	tReport
	numWMTopics
)

var wmTopicWeights = [numWMTopics]float64{18, 14, 8, 10, 8, 10, 7, 10, 5, 6}

type topicText struct{ emp, cli []string }

var wmTopics = [numWMTopics]topicText{
	tFund: {
		emp: []string{
			"{C}您好，最近{sector}板块波动比较大，您持有的{fund}今天净值{nav}，短期不用太担心。",
			"{C}，给您推荐一只{fund}（{code}），近一年收益{pct}%，风险等级{risk}，和您的风险测评匹配，您有空可以看看。",
			"{C}早上好☀️ 您上次问的{fund}，我整理了一下：\n1. 基金经理从业{n}年\n2. 近三年年化{pct}%\n3. 最大回撤-{pct1}%\n您看下有没有问题",
			"这只基金目前规模{N}亿，申购费{fee}%，管理费每年1.2%，持有满两年赎回免费。",
			"{C}，{fund}今天开放申购，1000元起购，想定投的话每月{amt2}也可以。",
			"我们研究所对{sector}比较乐观，配置上可以考虑{fund}和{fund2}搭配，一个进攻一个防守。",
			"您持有的{fund2}今年以来{chg}，跑赢业绩比较基准，建议继续持有。",
			"净值更新：{fund} {nav}（{chg}）{emo}",
			"{C}，下周有个{fund}基金经理的线上交流会，您感兴趣的话我给您报名？",
			"过往业绩不代表未来表现哈，{fund}波动会比债基大一些，建议仓位控制在{n}0%以内。",
		},
		cli: []string{
			"{fund}现在能买吗？",
			"这个基金最大回撤多少？",
			"管理费多少？赎回要几天到账？",
			"我之前买的{fund2}亏了{pct1}%了，要不要割肉😭",
			"有没有风险低一点的？我主要是想跑赢存款",
			"{fund}跟{fund2}比哪个好？",
			"定投的话建议每月投多少？",
			"感觉{sector}最近涨太多了，还能追吗",
			"基金经理是不是换人了？",
			"发我看看业绩走势图",
		},
	},
	tMarket: {
		emp: []string{
			"{C}，今天{idx}{chg}，{sector}板块领涨，两市成交额{N}00亿，市场情绪不错📈",
			"今天{sector}调整比较多，您的持仓回撤在可控范围内，别着急。",
			"美联储议息会议今晚凌晨出结果，市场预期降息{bps}个基点，明天A股可能会有波动。",
			"恒指今天{chg}，南向资金净买入{N}亿港元，港股通标的里{sector}表现最好。",
			"早盘{stock}高开{pct1}%，您之前关注的那只，需要我盯一下吗？",
			"收盘点评：{idx}{chg}，{sector}、{sector2}涨幅居前，主力资金净流入{N}亿。",
			"{us}昨晚财报超预期，盘后{chg}，对A股{tech}链条可能有带动。",
		},
		cli: []string{
			"今天怎么又跌了😂",
			"{stock}还能拿吗？",
			"港股最近怎么这么弱",
			"美联储这次会降息吗？",
			"{sector}是不是到顶了",
			"我看新闻说{sector2}有利好，是真的吗？",
			"今天成交量好大",
			"{hk}现在这个位置可以加仓吗？",
		},
	},
	tKYC: {
		emp: []string{
			"{C}您好，您的风险承受能力测评{date}到期，麻烦您抽空在APP【我的-风险测评】里重新做一下，大概5分钟。",
			"根据投资者适当性要求，{product}属于{risk}产品，需要您的风险等级达到{cr}才能购买。",
			"{C}，您的身份证有效期快到了，麻烦拍一下新证件的正反面，我帮您在系统里更新。",
			"开户还差一份税收居民身份声明，我把模板发您，填好签字拍照给我就行。",
			"按照反洗钱要求，需要跟您确认一下资金来源，是工资收入还是经营所得？",
			"您的职业信息和联系地址需要更新一下，方便的时候我打电话跟您核对？",
			"KYC资料还差最近三个月的银行流水，电子版就可以。",
		},
		cli: []string{
			"风险测评在哪里做？",
			"好的，今晚我在APP上弄一下",
			"测评结果是{cr}，可以买{product}吗？",
			"身份证照片发你了，看看清不清楚",
			"为什么要填这么多资料😓",
			"资金是公司分红，需要提供什么证明吗？",
			"地址没变，电话换了，新号码晚点发你",
		},
	},
	tMeeting: {
		emp: []string{
			"{C}，{day}{time}您方便吗？我带着{doc}过去找您当面聊。",
			"{C}，我们在{place}有一场{event}，{date}下午两点开始，给您留了位置。",
			"那就约{day}{time}，地址是{place}，到了给我打电话😊",
			"不好意思{C}，{day}临时有个会，能改到{day2}{time}吗？",
			"会议链接：#腾讯会议：{mtg}\n时间：{day}{time}\n提前五分钟进就行",
			"{C}，明天见面的地点改到{place}了，停车场在B2。",
		},
		cli: []string{
			"{day}{time}可以，来我公司吧",
			"这周比较忙，下周再约",
			"地址发我一下",
			"我可能会晚到十分钟，堵车🚗",
			"线上聊吧，不用跑一趟",
			"好的，到时候见",
			"改到{day2}吧",
		},
	},
	tDocs: {
		emp: []string{
			"{C}，{doc}我发您了，麻烦看一下，有问题随时问我。",
			"合同需要您在第{n}页和最后一页签字，签好拍照发我就行，原件下次见面带回来。",
			"电子签约的短信已经发到您手机上了，点链接按提示操作就可以。",
			"双录（录音录像）需要您本人配合，大概十分钟，{day}{time}可以吗？",
			"{C}，材料已经收到，我这边提交审核，一般两个工作日。",
			"{doc}有更新版本，以这份为准，之前那份作废。",
		},
		cli: []string{
			"收到，我晚上看",
			"签好了，你看下行不行",
			"第{n}页是哪里要签？",
			"短信收到了，链接打不开怎么办",
			"能不能发个PDF版的",
			"原件我快递给你吧，地址发我",
		},
	},
	tTrade: {
		emp: []string{
			"您委托的{stock}已经成交了，成交价{price}，数量{qty}股。",
			"港股通交收是T+2，卖出的资金要两个交易日后才能取出。",
			"ETF申赎清单今天更新了，{idx}ETF溢价率有点高，建议明天再买。",
			"{C}，两融账户的维持担保比例现在是{N}0%，还比较安全。",
			"可转债打新明天开始，中签率大概万分之{n}，建议顶格申购。",
			"跨境ETF是T+0交易，当天可以买卖，但是要注意溢价。",
			"{C}，您设置的{stock}条件单触发了，{price}卖出{qty}股已成交。",
		},
		cli: []string{
			"帮我看下{stock}现在什么价",
			"港股通的额度用完了吗？",
			"为什么我的单子没成交",
			"T+0的ETF有哪些？",
			"卖出的钱什么时候能转出来",
			"国债逆回购怎么操作？",
			"{hk}能不能通过港股通买？",
		},
	},
	tMaturity: {
		emp: []string{
			"{C}，您的{product}{date}到期，本金和收益预计T+1到账，需要续作吗？",
			"目前{product}年化业绩比较基准{rate}%，期限{N}天，额度比较紧张，需要的话我帮您预约。",
			"到期资金可以先放现金宝，7日年化{rate}%，随时可以取。",
			"{C}，上次那笔{amt}的产品已经兑付了，您查一下银行卡。",
		},
		cli: []string{
			"到账了，谢谢",
			"现在还有什么短期的产品？",
			"收益比上次低了啊",
			"先放着吧，等等看",
			"续作吧，还是{amt}",
		},
	},
	tSmall: {
		emp: []string{
			"{C}周末愉快😊",
			"{C}，天气转凉了，注意保暖🍂",
			"{C}生日快乐🎂 祝您身体健康，万事如意！",
			"{C}，下次来{city}一定请您喝咖啡☕",
			"{greet}",
			"最近孩子开学了吧？忙不忙",
			"{C}，您上次说的那本书我买了，确实不错👍",
		},
		cli: []string{
			"谢谢{E}😄",
			"同乐同乐",
			"[抱拳]",
			"哈哈哈好的",
			"最近在外地出差，回来再联系",
			"{greet}",
			"你们最近忙吗",
		},
	},
	tFees: {
		emp: []string{
			"费率是这样的：\n申购费：{fee}%（APP购买一折）\n管理费：1.2%/年\n托管费：0.2%/年\n赎回费：持有7天以内1.5%，满一年免",
			"佣金可以申请万{n}，我帮您提交一下。",
			"fee schedule我稍后发您邮箱，主要是管理费和业绩报酬两部分。",
			"业绩报酬是超过{rate}%以上部分提取20%，按年计提。",
		},
		cli: []string{
			"佣金能再低一点吗",
			"这个费率有点高啊",
			"业绩报酬怎么算的？",
			"好的，发我邮箱吧",
		},
	},
	tReport: {
		emp: []string{
			"{C}，您{q}的资产配置报告出来了，整体收益{chg}，主要贡献来自{sector}。",
			"截至{today}，您的组合：\n• 固收类 {N}%\n• 权益类 {n}0%\n• 现金 {n}%\n比上季度稍微增加了一点权益仓位。",
			"根据您的目标，建议把{sector}的仓位降一点，增加一些红利和债券，平衡一下波动。",
		},
		cli: []string{
			"收益还行👍",
			"权益是不是太多了？",
			"下次见面细聊",
			"我想多配一点黄金",
		},
	},
}

var acksZH = []string{"好的", "好的👌", "收到", "收到，谢谢", "嗯嗯", "明白", "OK", "ok👍", "好的，辛苦了", "[OK]", "[强]", "麻烦了",
	"好，我看一下", "没问题", "👌", "👍👍", "[握手]", "好嘞", "可以", "行", "嗯，知道了", "好的，稍等"}
var acksEmpZH = []string{"不客气，有问题随时找我", "稍等，我查一下", "好的，我来安排", "收到，马上处理", "好的{C}", "没问题，回头发您",
	"好的{C}，我这边跟进", "收到{C}，稍后回复您", "明白，我马上去办", "好的，有进展第一时间告诉您", "没问题，今天内给您答复", "好嘞，您放心",
	"{C}客气了", "我确认一下再回您", "好的，{day}前给您"}
var acksCliZH = []string{"谢谢{E}", "辛苦啦", "好的，谢谢", "知道了", "回头再说", "等我看完回你", "好的好的", "行，你看着办", "知道啦",
	"OK，谢了", "辛苦了{E}", "了解，回头联系", "嗯嗯，收到", "好，{day}再说"}

var acksEN = []string{"OK", "Thanks!", "Noted.", "Sure.", "Sounds good 👍", "Will do.", "Got it.", "Perfect, thank you.", "👍"}

var enEmp = []string{
	"Hi {Ce}, the factsheet for {fundEN} is attached. YTD return is {pct}%, max drawdown {pct1}%.",
	"Good morning {Ce}! Market update: {idxEN} {chg}, led by {sectorEN}.",
	"Could we meet {dayEN} at {timeEN}? I can come to your office.",
	"Please find the fee schedule below:\n- Subscription: {fee}%\n- Management: 1.2% p.a.\n- Custody: 0.2% p.a.\n- Redemption: free after 1 year",
	"Your risk profile expires on {dateEN}, please redo the questionnaire in the app when you have a moment.",
	"The product is rated {risk}, which matches your risk profile. Minimum subscription is RMB 1m.",
	"Your order for {hkEN} was filled at HK${price}, {qty} shares.",
	"Thanks {Ce}, have a great weekend!",
	"Reminder: the call with our strategist is {dayEN} at {timeEN}, Tencent Meeting ID {mtg}.",
	"Received your documents, I'll submit them for review today. Usually takes 2 business days.",
	"Past performance is not indicative of future results — the fund is more volatile than a bond fund.",
	"{Ce}, the Stock Connect quota is fine today, your order should go through at the open.",
	"FYI the {product} matures on {dateEN}; principal and interest will be credited T+1. Shall I roll it over?",
}

var enCli = []string{
	"Thanks, will take a look tonight.",
	"What's the lock-up period?",
	"Can you send me the fee schedule?",
	"{dayEN} works for me.",
	"Is the {sectorEN} rally overdone?",
	"How do I open a Stock Connect account?",
	"Sorry, running late, 10 mins.",
	"What's the redemption timeline?",
	"Could you resend the PDF? The link expired.",
	"Can I subscribe in USD?",
	"Let's do a call instead, I'm travelling this week.",
	"How much of my portfolio is in equities now?",
}

// Institutional sales: Chinese with English desk jargon.
var isEmp = []string{
	"{C}早，今天{time}我们有个{sector}的电话会，主讲是首席{col}，dial-in稍后发您。",
	"{company}下周来上海反路演，{day}上午有slot，您这边要不要约一个1on1？",
	"我们的{sector}深度报告update了，核心观点：需求见底，估值在历史{n}0%分位。",
	"Block trade：{stock}，{N}0万股，折价{pct1}%，有兴趣的话中午前回复。",
	"IPO询价：{stock}，区间{price}-{price2}，本周四截止，book已经{n}x覆盖。",
	"{C}，您要的{sector}产业链调研纪要发您邮箱了，请查收。",
	"周报：本周{idx}{chg}，北向净流入{N}亿，TMT交易拥挤度回落。",
	"{date}我们在{city}办{event}，给您留了两个名额，需要的话我帮您registration。",
	"研究所新覆盖了{stock}，首次给予买入评级，目标价{price}。",
	"{C}，Q{qn} broker vote还请多多支持🙏",
	"{stock}管理层交流会纪要：\n1. Q3订单同比+{N}%\n2. 毛利率环比改善\n3. capex指引不变",
	"晚上{us}财报，我们美股组明早8点有个quick call，要不要加上您？",
}

var isCli = []string{
	"收到，帮我约一下{col}",
	"有没有{stock}的最新模型？",
	"Dial-in发我一下，{time}那个",
	"这个block的锁定期多久？",
	"{stock}这笔block折价多少？我们可以看{N}0万股",
	"上次{company}的纪要还有吗？PM在问",
	"{day}{time}我们投决会，之后回复你",
	"帮我问下{col}对{sector}的最新看法，{N}%的增速能不能维持",
	"你们的{sector}模型更新到{q}了吗",
	"book的质量怎么样？长线多吗",
	"{company}管理层下周有空吗？想约个小范围交流",
	"这周调研排满了，{day2}再说吧",
	"{day}上午可以，meeting room你们订",
	"谢谢，研报能发个英文版吗",
	"{sector}那篇深度写得不错，能不能约首席{day}{time}聊半小时",
	"最近{sector}的持仓都挺重的，你们怎么看",
	"我们PM想跟首席聊一下{sector}，安排个call？",
	"Thanks，会上见",
	"{company}的channel check有更新吗",
	"这次路演我们{n}个人参加，名单稍后发你",
}

// Cantonese-flavoured traditional Chinese, as Hong Kong clients write it.
var hkCli = []string{
	"唔該晒🙏",
	"收到，我聽日再睇下",
	"幾時可以開戶？需要咩文件？",
	"我想問下港股通嘅額度夠唔夠",
	"個fund最近表現點樣？",
	"今日恒指跌咁多，使唔使減倉？",
	"好呀，下星期三得閒",
	"呢個產品可唔可以用美金買？",
	"我而家喺機場，遲啲覆你",
	"OK，你send份資料俾我先",
	"{hk}仲可以揸住嗎？",
	"多謝晒，辛苦你",
	"利率幾多？",
	"我要轉錢入戶口，點樣操作？",
	"收到，thx",
	"今個禮拜好忙，下個禮拜再約",
}

// Internal one-to-one chats.
const (
	iFollow = iota
	iCompliance
	iAdmin
	iSocial
	iMarket
	iDesk
	numInternalTopics
)

var internalTopicWeights = [numInternalTopics]float64{30, 14, 18, 14, 16, 0}

var internalTopics = [numInternalTopics][]string{
	iFollow: {
		"{cname}那边的回访做了吗？",
		"{cname}想买{product}，风险等级不匹配，怎么处理？",
		"帮我看下{cname}的KYC材料齐不齐，明天要提交",
		"下午我去拜访{cname}，你把他的持仓明细发我一下",
		"{cname}说要转{amt}过来，做哪个产品比较合适？",
		"客户问{fund}的分红方式能不能改成红利再投资",
		"{cname}的风险测评过期了，我提醒过了还没做",
		"{cname}那笔{product}到期了，续作的单子我放你桌上了",
	},
	iCompliance: {
		"{fund}这份宣传材料发客户之前要先走合规审核吗？",
		"{product}的推介话术要按照合规给的模板来，别自己发挥",
		"{cname}的适当性匹配有问题，{product}是{risk}，客户是{cr}，这单先别做",
		"{month}月会话抽查报告出来了，整体还行，{n}条需要整改",
		"{cname}的双录视频上传了吗？合规那边在催",
		"提醒一下，客户风险测评过期的不能下单，{cname}那单先别提交",
		"{cname}的大额交易需要做反洗钱尽调，麻烦补一下资金来源说明",
		"这条关于{fund}的朋友圈文案能发吗？我把截图发你看下",
		"上周抽查的会话里有{n}条用词不规范，我整理好发你，你跟团队强调一下",
		"{product}的风险揭示书更新了，旧版本不要再用了",
	},
	iAdmin: {
		"{month}月的业绩报表今天下班前要交",
		"系统又卡了，你那边能登上吗",
		"OA上{cname}的开户流程卡在复核，能帮忙催一下吗",
		"打印机又没纸了😂",
		"{date}之前把{q}客户回访表交给我",
		"明天晨会{time}开始，别迟到",
		"帮我盖个章，{cname}的合同在你桌上",
		"{month}月的报销单填好了吗？财务说周五截止",
		"CRM里客户标签怎么批量改？",
		"{date}的路演名单更新了，在共享盘里",
		"{room}我订了，{day}{time}",
	},
	iSocial: {
		"中午吃什么？",
		"楼下新开了家{food}，要不要去试试",
		"今天加班吗",
		"帮我带杯咖啡☕，美式不加糖",
		"周五团建去哪",
		"哈哈哈哈哈",
		"下班一起走？",
		"{greet}",
	},
	iMarket: {
		"今天{sector}怎么回事，全线跌",
		"{stock}出业绩了吗？",
		"客户都在问{sector}，研究所有没有最新观点",
		"{idx}今天{chg}，客户情绪还行",
		"{hk}今天{chg}，港股通那几个客户估计又要来问了",
		"{us}盘后{chg}，明天{tech}可能要动",
	},
	iDesk: {
		"今天的morning call谁来讲？",
		"{company}的roadshow名单发我一下",
		"这个client的ranking这季度掉了，要加强coverage",
		"Broker vote快开始了，大家多跟客户沟通",
		"PM那边反馈我们的{sector}报告不错👍",
		"{cname}那边想约{company}的1on1，帮我跟IR确认下时间",
		"明天{city}的路演车八点出发，别迟到",
	},
}

var acksInternal = []string{"好", "收到", "马上", "我看看", "稍等", "OK", "搞定了", "👌", "行", "已发", "没问题", "在开会，晚点回你",
	"在路上，到了回你", "我问下{col}", "{time}之前给你", "好，我跟{cname}确认下", "刚看到，马上弄",
	"明白👌", "好的👍", "嗯", "哈哈", "了解", "ok", "辛苦", "[OK]", "收到🫡"}

// Group chats.
var groupMorning = []string{
	"【晨会纪要】{today}\n1. 隔夜美股：纳指{chg}\n2. 今日关注：{sector}、{sector2}\n3. 重点产品：{fund}",
	"今天晨会{time}开始，地点{room}，线上的同事用腾讯会议 {mtg}",
	"{col}今天讲{sector}，大家准备一下问题",
	"本月截至目前新增资产{N}亿，完成率{n}0%，还差一点，大家加油💪",
	"{fund}募集进度{n}0%，周五结束，手上有意向客户的抓紧",
	"恭喜{col}本周新开户{n}户👏👏",
	"{date}{event}报名链接已发，每人至少邀请{n}位客户",
	"路演物料（易拉宝、产品折页）已经到了，放在{room}",
	"{city}站活动场地定了：{place}",
	"{time}部门例会，讨论{q}业绩目标",
	"{fund}的推介材料已经过合规审核（审批号HG{month}{N}{n}），可以发客户了",
	"{date}的{event}邀请函定稿了，在共享盘“市场活动”文件夹",
	"{col}下午请假，{cname}的来访麻烦大家帮忙接待一下",
	"这周重点推{fund}，话术和材料晚点发群里",
	"{q}考核口径调整了：新增有效户和AUM各占一半",
}

var groupCompliance = []string{
	"【合规提示】近期监管检查重点：适当性管理、双录、宣传材料审核，请大家自查。",
	"提醒：与客户沟通请使用企业微信，所有会话按规定存档。",
	"【合规提示】禁止向客户承诺收益或代客理财，发现违规将严肃处理。",
	"本周五下午三点合规培训，主题是反洗钱和个人信息保护，请准时参加。",
	"【合规提示】客户身份证、银行卡等个人信息不得在群聊中传播，需要提交的请走系统。",
	"请各位在{date}前完成年度合规承诺书签署。",
	"宣传材料请走OA审批，审批编号写在材料右下角。",
	"收到",
	"收到，谢谢提醒",
}

var groupDesk = []string{
	"Morning call {time}，今天讲{sector}和{stock}",
	"{company}反路演：{day}上午，还剩{n}个slot",
	"今天{idx}{chg}，客户关注度最高的是{sector}",
	"新发报告：《{sector}行业深度：拐点已至》，请大家转发给重点客户",
	"Broker review下周开始，大家把{q}的服务记录补一下",
	"{company}的电话会{time}开始，已经有{N}家机构报名",
	"{stock} block今天下午询价，有需求的客户请回复",
	"{date}{city}策略会嘉宾名单更新，见共享盘",
}

var groupSocial = []string{"今天去吃{food}？", "走起", "我点外卖了，你们去吧", "+1", "下午茶谁请🧋", "{col}生日快乐🎂🎉", "楼下排队好长😂",
	"今天降温了", "周五去吃{food}吧", "我要减肥，不去了", "哈哈哈哈", "拼单奶茶有人吗", "+2"}

var groupClientEmp = []string{
	"【早间速递】{today}\n隔夜美股：道指{chg}，纳指{chg2}\n港股前瞻：恒指夜期{chg3}\n今日关注：{sector}",
	"各位早上好☀️ 今天{idx}{chg}，{sector}领涨。",
	"【活动预告】{date}下午两点在{place}举办{event}，名额有限，感兴趣的伙伴私聊我报名。",
	"刚才有朋友问到{fund}，统一说明一下：目前开放申购，起购1000元，具体可以私聊。",
	"温馨提示：市场有风险，投资需谨慎，请根据自身风险承受能力选择产品。",
	"今天收盘{idx}{chg}，成交额{N}00亿，{sector}资金净流入较多。",
	"{event}的回放已经放在群文件里，没来得及参加的可以看一下",
	"{greet}",
	"欢迎新朋友入群👏 有任何问题都可以在群里提问",
}

var groupClientCli = []string{"谢谢分享👍", "今天又是绿的😂", "{sector}还能上车吗", "报名+1", "请问{fund}现在还能买吗", "港股什么时候见底啊",
	"[强][强]", "老师辛苦了", "收到", "这波行情怎么看？", "早上好🌹", "{stock}怎么看？", "明天我去，报名两位", "学习了",
	"感谢老师🙏", "我的{fund2}还要拿多久才回本😂"}

// --- rich message content ------------------------------------------------------

type linkInfo struct{ title, desc string }

var links = []linkInfo{
	{"{q}A股策略展望：把握结构性机会", "云帆研究所"},
	{"{sector}行业周报：景气度持续回升", "研究所 · 行业组"},
	{"美联储议息会议点评", "宏观组 · 首席经济学家"},
	{"一文读懂港股通交易规则", "云帆证券财富"},
	{"个人养老金账户怎么开？", "投教专栏"},
	{"{fund}：2026年二季度报告", "基金公司公告"},
	{"ETF投资入门：T+0和T+1有什么区别", "投教专栏"},
	{"警惕非法荐股诈骗", "云帆证券投资者保护"},
	{"Hang Seng Tech: valuation at decade low?", "Yunfan Research"},
	{"2026 Mid-Year Outlook: Asia Equities", "Global Strategy Team"},
}

type weappInfo struct{ title, desc, user, display string }

var weapps = []weappInfo{
	{"开户小程序", "三分钟在线开户", "gh_7a3c91d2e4b5@app", "云帆开户"},
	{"基金定投计算器", "算算每月定投收益", "gh_b2e8417c9f03@app", "云帆财富"},
	{"风险测评", "投资者风险承受能力评估", "gh_5d61ae0c72b8@app", "云帆财富"},
	{"腾讯会议", "{day}{time} 产品交流会", "gh_6c5cd1b2a8f3@app", "腾讯会议"},
	{"活动报名", "{event}报名入口", "gh_0f4e2b9d6a17@app", "云帆活动"},
	{"港股通开通", "在线开通港股通权限", "gh_93ab7c5e1d20@app", "云帆开户"},
}

type sphInfo struct {
	name, desc string
	kind       int
}

var sphFeeds = []sphInfo{
	{"财经观察", "今日美股复盘", 4}, {"云帆证券", "三分钟看懂{sector}", 4}, {"港股那些事", "恒生科技还能不能买？", 4},
	{"理财小课堂", "定投的正确姿势", 2}, {"首席说", "{q}策略会直播回放", 9}, {"财经夜读", "{sector}的长期逻辑", 4},
}

var todoTitles = []struct{ title, content string }{
	{"客户回访", "周五前回访{cname}"}, {"补充材料", "提醒{cname}补银行流水"}, {"风险测评", "{cname}测评到期，{date}前完成"},
	{"报表", "{month}月业绩报表周五交"}, {"双录", "{day}{time}和{cname}双录"}, {"策略会", "{event}邀请名单确认"},
	{"合规培训", "完成反洗钱线上课程"}, {"产品上架", "{fund}资料包整理"},
}

var voteTitles = []struct {
	title string
	items []string
}{
	{"下次路演时间", []string{"周一", "周三", "周五"}}, {"团建去哪", []string{"莫干山", "千岛湖", "崇明岛", "就近吃饭"}},
	{"策略会午餐", []string{"中餐", "西餐", "简餐"}}, {"周例会时间调整", []string{"周一上午", "周一下午"}},
	{"年会节目", []string{"合唱", "小品", "抽奖就行"}}, {"下周晨会主题", []string{"{sector}", "{sector2}", "宏观"}},
}

var collectTitles = []struct {
	title string
	ques  []string
	types []string
}{
	{"客户风险测评", []string{"可承受最大亏损", "投资年限"}, []string{"Text", "Number"}},
	{"策略会报名", []string{"姓名", "人数", "是否需要停车位"}, []string{"Text", "Number", "Text"}},
	{"团建报名", []string{"姓名", "是否携带家属"}, []string{"Text", "Text"}},
	{"线下活动签到", []string{"姓名", "手机号后四位", "到达时间"}, []string{"Text", "Number", "Time"}},
	{"路演意向统计", []string{"机构名称", "参会人数", "意向日期"}, []string{"Text", "Number", "Date"}},
}

var wishes = []string{"恭喜发财，大吉大利", "中秋快乐", "辛苦了！", "周末愉快", "生日快乐🎂", "新年快乐", "开门红", "一点心意", "谢谢大家"}

var meetingTopics = []string{"季度复盘", "产品交流会", "客户资产配置沟通", "{sector}专题交流", "周例会", "策略会彩排", "合规培训", "新产品路演"}

var calendarTitles = []string{"客户面谈", "{event}", "部门例会", "双录", "产品培训", "客户回访", "路演：{company}", "合规检查沟通会"}

var docTitles = []struct{ title, kind string }{
	{"客户持仓明细", "sheet"}, {"{month}月业绩统计", "sheet"}, {"路演排期表", "sheet"}, {"策略会嘉宾名单", "sheet"},
	{"{sector}行业调研纪要", "doc"}, {"周报{today}", "doc"}, {"KYC补充材料清单", "doc"}, {"{event}执行方案", "doc"},
}

var markdownPosts = []string{
	"**收盘播报** {today}\n> 上证指数 <font color=\"warning\">{chg}</font>\n> 恒生指数 <font color=\"info\">{chg2}</font>\n> 成交额 {N}00亿",
	"**合规提醒**：请勿在会话中向客户承诺收益，所有产品推介须使用合规审核后的材料。",
	"**会议提醒**：{time} 部门例会，地点{room}。",
	"**提醒**：本周有{n}位客户风险测评到期，请前往系统查看，谢谢。",
	"**开盘提示** 今日{idx}{chg}，{sector}板块异动，请关注客户持仓。",
	"**日程**：{day}{time} {event}彩排，请相关同事准时参加。",
}

var newsPosts = []linkInfo{
	{"今日市场快讯", "{idx}{chg}，{sector}领涨"}, {"早间速递 {today}", "隔夜美股{chg}，港股夜期{chg2}"},
	{"研究所晨报", "{sector}：景气度拐点确认"}, {"港股通每日资金流", "南向资金净买入{N}亿港元"},
	{"本周投教：认识基金费率", "申购费、管理费、托管费一次说清"},
}

type holiday struct {
	y, m, d int
	greet   string
}

// Holidays drive greetings ({greet}); dates are the official ones.
var holidays = []holiday{
	{2025, 10, 1, "国庆快乐🇨🇳 祝您假期愉快！"}, {2025, 10, 6, "中秋快乐🥮 祝您和家人团团圆圆！"},
	{2026, 1, 1, "元旦快乐🎉 新年新气象！"}, {2026, 2, 17, "新春快乐🧧 马年大吉，万事如意！"},
	{2026, 5, 1, "劳动节快乐！假期注意休息😊"}, {2026, 6, 19, "端午安康🐲"},
	{2026, 9, 10, "教师节快乐🌹"}, {2026, 9, 25, "中秋快乐🥮 祝您和家人团团圆圆！"},
	{2026, 10, 1, "国庆快乐🇨🇳 祝您假期愉快！"}, {2027, 1, 1, "元旦快乐🎉"}, {2027, 2, 6, "新春快乐🧧 羊年大吉！"},
}

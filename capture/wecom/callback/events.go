package callback

// eventLabels names, in Chinese as WeCom's and the Official Account
// platform's documentation does, every callback Event they document; an
// archived event's text is its label (then its ChangeType), so a reviewer
// finds 企业客户事件 by searching for it. An Event not listed is archived
// all the same, its name as its text. docs/FORMAT.md §3.3 lists these and
// TestFormatCallbackTable checks the table against this map.
var eventLabels = map[string]string{
	// WeCom self-built and third-party apps (接收事件, 客户联系, 审批…).
	"subscribe":                "关注",
	"unsubscribe":              "取消关注",
	"enter_agent":              "进入应用",
	"LOCATION":                 "上报地理位置",
	"batch_job_result":         "异步任务完成",
	"change_contact":           "通讯录变更",
	"click":                    "点击菜单拉取消息",
	"view":                     "点击菜单跳转链接",
	"scancode_push":            "扫码推事件",
	"scancode_waitmsg":         "扫码推事件且弹出“消息接收中”提示框",
	"pic_sysphoto":             "弹出系统拍照发图",
	"pic_photo_or_album":       "弹出拍照或者相册发图",
	"pic_weixin":               "弹出微信相册发图器",
	"location_select":          "弹出地理位置选择器",
	"open_approval_change":     "审批状态通知",
	"sys_approval_change":      "审批申请状态变化",
	"share_agent_change":       "企业互联共享应用",
	"share_chain_change":       "上下游共享应用",
	"template_card_event":      "模板卡片事件",
	"template_card_menu_event": "模板卡片右上角菜单事件",
	"change_external_contact":  "企业客户事件",
	"change_external_chat":     "客户群事件",
	"change_external_tag":      "企业客户标签事件",
	"customer_acquisition":     "获客助手事件",
	"living_status_change":     "直播状态变更",
	"close_inactive_agent":     "长期未使用应用临时停用",
	"reopen_inactive_agent":    "长期未使用应用重新启用",
	"change_app_admin":         "应用管理员变更",
	"msgaudit_notify":          "会话内容存档产生会话消息",
	"kf_msg_or_event":          "客服消息与事件",
	// Official Accounts (接收事件推送, 模板消息, 群发, 订阅通知, 客服).
	"SCAN":                       "扫描带参数二维码",
	"CLICK":                      "点击菜单拉取消息",
	"VIEW":                       "点击菜单跳转链接",
	"view_miniprogram":           "点击菜单跳转小程序",
	"TEMPLATESENDJOBFINISH":      "模板消息发送结果",
	"MASSSENDJOBFINISH":          "群发结果",
	"subscribe_msg_popup_event":  "订阅通知弹窗",
	"subscribe_msg_change_event": "订阅通知管理变更",
	"subscribe_msg_sent_event":   "订阅通知发送结果",
	"kf_create_session":          "客服接入会话",
	"kf_close_session":           "客服关闭会话",
	"kf_switch_session":          "客服转接会话",
}

// suiteLabels names the InfoTypes of suite (third-party and
// custom-developed app) instruction callbacks.
var suiteLabels = map[string]string{
	"suite_ticket":            "推送suite_ticket",
	"create_auth":             "授权成功",
	"change_auth":             "变更授权",
	"cancel_auth":             "取消授权",
	"reset_permanent_code":    "重置永久授权码",
	"change_contact":          "通讯录变更",
	"change_external_contact": "企业客户事件",
	"change_external_chat":    "客户群事件",
	"change_external_tag":     "企业客户标签事件",
	"batch_job_result":        "异步任务完成",
	"register_corp":           "注册完成",
	"change_app_admin":        "应用管理员变更",
	"license_pay_success":     "接口许可支付成功",
	"license_refund":          "接口许可退款",
	"unlicensed_notify":       "未获得接口许可",
	"auto_activate":           "自动激活",
	"approve_special_auth":    "获得特殊权限授权",
	"cancel_special_auth":     "取消特殊权限授权",
	"corp_arch_auth":          "授权组织架构权限",
}

// label is the text of an event or suite callback: its label or, not
// documented, its name; then the ChangeType that says what changed.
func label(labels map[string]string, name, changeType string) string {
	l := labels[name]
	if l == "" {
		l = name
	}
	if changeType != "" {
		l += " " + changeType
	}
	return l
}

package callback

// eventLabels names, in Chinese as WeCom's and the Official Account
// platform's documentation does, every callback Event they document; an
// archived event's text is its label (then its ChangeType), so a reviewer
// finds 企业客户事件 by searching for it. An Event not listed is archived
// all the same, its name as its text. docs/FORMAT.md §3.3 lists these and
// TestFormatCallbackTable checks the table against this map.
var eventLabels = map[string]string{
	// WeCom self-built and third-party apps (接收事件, 客户联系, 审批…).
	"subscribe":                     "关注",
	"unsubscribe":                   "取消关注",
	"enter_agent":                   "进入应用",
	"LOCATION":                      "上报地理位置",
	"batch_job_result":              "异步任务完成",
	"change_contact":                "通讯录变更",
	"click":                         "点击菜单拉取消息",
	"view":                          "点击菜单跳转链接",
	"scancode_push":                 "扫码推事件",
	"scancode_waitmsg":              "扫码推事件且弹出“消息接收中”提示框",
	"pic_sysphoto":                  "弹出系统拍照发图",
	"pic_photo_or_album":            "弹出拍照或者相册发图",
	"pic_weixin":                    "弹出微信相册发图器",
	"location_select":               "弹出地理位置选择器",
	"open_approval_change":          "审批状态通知",
	"sys_approval_change":           "审批申请状态变化",
	"share_agent_change":            "企业互联共享应用",
	"share_chain_change":            "上下游共享应用",
	"template_card_event":           "模板卡片事件",
	"template_card_menu_event":      "模板卡片右上角菜单事件",
	"change_external_contact":       "企业客户事件",
	"change_external_chat":          "客户群事件",
	"change_external_tag":           "企业客户标签事件",
	"customer_acquisition":          "获客助手事件",
	"living_status_change":          "直播状态变更",
	"close_inactive_agent":          "长期未使用应用临时停用",
	"reopen_inactive_agent":         "长期未使用应用重新启用",
	"change_app_admin":              "应用管理员变更",
	"msgaudit_notify":               "会话内容存档产生会话消息",
	"kf_msg_or_event":               "客服消息与事件",
	"kf_account_auth_change":        "客服账号授权变更",
	"taskcard_click":                "任务卡片事件",
	"change_chain":                  "上下游变更",
	"unlicensed_notify":             "未获得接口许可",
	"program_notify":                "小程序通知",
	"upload_media_job_finish":       "异步上传临时素材完成",
	"switch_workbench_mode":         "切换工作台自定义模式",
	"submit_vip_account_approval":   "提交VIP账号审批",
	"finish_vip_account_approval":   "VIP账号审批完成",
	"add_schedule":                  "添加日程",
	"modify_schedule":               "修改日程",
	"delete_schedule":               "删除日程",
	"modify_calendar":               "修改日历",
	"delete_calendar":               "删除日历",
	"book_meeting_room":             "预定会议室",
	"meeting_change":                "会议变更",
	"meeting_statistics":            "会议统计",
	"doc_change":                    "文档变更",
	"smart_sheet_change":            "智能表格变更",
	"wedrive_file_change":           "微盘文件变更",
	"wedrive_space_change":          "微盘空间变更",
	"wedrive_insufficient_capacity": "微盘容量不足",
	"security":                      "安全事件",
	"app_email_change":              "应用邮箱变更",
	"change_school_contact":         "家校通讯录变更",
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
	"FREEPUBLISHJOBFINISH":       "发布任务完成",
	"user_authorization_revoke":  "用户撤回授权",
	"user_enter_tempsession":     "用户进入客服会话",
}

// suiteLabels names the InfoTypes of suite (third-party and
// custom-developed app) instruction callbacks.
var suiteLabels = map[string]string{
	"suite_ticket":                       "推送suite_ticket",
	"create_auth":                        "授权成功",
	"change_auth":                        "变更授权",
	"cancel_auth":                        "取消授权",
	"reset_permanent_code":               "重置永久授权码",
	"change_contact":                     "通讯录变更",
	"change_external_contact":            "企业客户事件",
	"change_external_chat":               "客户群事件",
	"change_external_tag":                "企业客户标签事件",
	"batch_job_result":                   "异步任务完成",
	"register_corp":                      "注册完成",
	"license_pay_success":                "接口许可支付成功",
	"license_refund":                     "接口许可退款",
	"auto_activate":                      "自动激活",
	"share_agent_change":                 "企业互联共享应用",
	"agree_external_userid_migration":    "同意外部联系人ID迁移",
	"advanced_api_expired":               "高级功能到期",
	"advanced_api_trial_expired":         "高级功能试用到期",
	"chat_archive_audit_approved_single": "会话内容存档：客户同意存档",
	"chat_archive_export_finished":       "会话内容导出完成",
	"conversation_new_message":           "会话内容存档新消息",
	"hit_keyword":                        "命中关键词",
	"enter_register_package":             "进入注册推广包",
	"open_order":                         "下单成功",
	"change_order":                       "改单",
	"pay_for_app_success":                "支付成功",
	"refund":                             "退款",
	"change_editon":                      "版本变更",
	"add_device":                         "添加设备",
	"del_device":                         "删除设备",
	"connect_info":                       "设备连接",
	"disconnect_info":                    "设备断开",
	"error_report":                       "设备异常上报",
	"fetch_log_finish":                   "设备日志拉取完成",
	"remark_device_name":                 "设备备注名变更",
	"device_feature_change":              "设备功能变更",
	"device_data_auth_change":            "设备数据授权变更",
	"approve_special_auth":               "获得特殊权限授权",
	"cancel_special_auth":                "取消特殊权限授权",
	"corp_arch_auth":                     "授权组织架构权限",
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

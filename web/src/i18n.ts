// Every string the console shows goes through t(): Simplified Chinese by default, English
// on request (the language switch in the header, kept in localStorage).

export type Lang = 'zh' | 'en';

const dict = {
  app_name: ['助老 · 智慧居家社区养老服务平台', 'zhulao · Smart home & community elderly care'],
  app_short: ['助老', 'zhulao'],
  lang_switch: ['English', '中文'],
  logout: ['退出', 'Sign out'],
  login_title: ['登录', 'Sign in'],
  username: ['用户名', 'Username'],
  password: ['密码', 'Password'],
  login_button: ['登录', 'Sign in'],
  login_failed: ['用户名或密码错误', 'Wrong username or password'],
  demo_hint: ['演示账号：admin、supervisor、operator1、caregiver1、manager1、station1、family1，密码 zhulao-demo-2026', 'Demo logins: admin, supervisor, operator1, caregiver1, manager1, station1, family1; password zhulao-demo-2026'],
  loading: ['加载中…', 'Loading…'],
  none: ['无', 'None'],
  dash: ['—', '—'],
  error: ['出错了', 'Something went wrong'],
  retry: ['重试', 'Retry'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  search: ['搜索', 'Search'],
  reset: ['重置', 'Reset'],
  all: ['全部', 'All'],
  yes: ['是', 'Yes'],
  no: ['否', 'No'],
  prev_page: ['上一页', 'Previous'],
  next_page: ['下一页', 'Next'],
  page_of: ['第 {page} / {pages} 页，共 {total} 条', 'Page {page} of {pages}, {total} in all'],
  pending_issue5: ['待接入', 'Coming'],
  pending_issue5_long: ['此功能依赖居家服务与助餐模块（服务订单、抢单、助餐、结算），该模块的接口上线后在此接入；目前不显示任何模拟数据。', 'This needs the home-care services and meals module (orders, grabbing, meals, settlement); it will be connected here when that API lands. No made-up data is shown meanwhile.'],
  // navigation
  nav_bigscreen: ['监管大屏', 'Big screen'],
  nav_console: ['呼叫中心', 'Call centre'],
  nav_elders: ['老人台账', 'Elders'],
  nav_facilities: ['服务设施', 'Facilities'],
  nav_staff: ['人员账号', 'Staff'],
  nav_devices: ['智能设备', 'Devices'],
  nav_ledger: ['台账导入导出', 'Ledger import/export'],
  nav_services: ['服务与助餐', 'Services & meals'],
  nav_caregiver: ['助老员', 'Caregiver'],
  nav_family: ['家属', 'Family'],
  role_admin: ['管理员', 'Administrator'],
  role_supervisor: ['民政监管', 'Supervisor'],
  role_operator: ['坐席', 'Operator'],
  role_caregiver: ['助老员', 'Caregiver'],
  role_care_manager: ['养老管家', 'Care manager'],
  role_station_staff: ['服务站工作人员', 'Station staff'],
  role_family: ['家属', 'Family'],
  // alarm vocabulary
  kind_fall: ['跌倒', 'Fall'],
  kind_sos: ['紧急呼叫', 'SOS'],
  kind_bedside: ['床头呼叫', 'Bedside button'],
  kind_vital: ['体征异常', 'Vital sign'],
  kind_inactivity: ['长时间未活动', 'Inactivity'],
  kind_device_removed: ['设备摘除', 'Device removed'],
  kind_offline: ['设备离线', 'Device offline'],
  kind_low_battery: ['电量低', 'Low battery'],
  kind_geofence_exit: ['离开安全区域', 'Left safe zone'],
  stage_queued: ['待接警', 'Queued'],
  stage_answered: ['已接警', 'Answered'],
  stage_assessed: ['已研判', 'Assessed'],
  stage_dispatched: ['已派员', 'Dispatched'],
  stage_on_site: ['已到场', 'On site'],
  stage_closed: ['已结案', 'Closed'],
  assess_false_alarm: ['误报', 'False alarm'],
  assess_phone_advice: ['电话指导', 'Advice by phone'],
  assess_home_visit: ['上门查看', 'Home visit'],
  assess_emergency: ['紧急救助', 'Emergency'],
  outcome_false_alarm: ['误报', 'False alarm'],
  outcome_resolved_by_phone: ['电话处置', 'Resolved by phone'],
  outcome_resolved_on_site: ['上门处置', 'Resolved on site'],
  outcome_hospitalised: ['送医', 'Taken to hospital'],
  outcome_other: ['其他', 'Other'],
  // big screen
  bs_title: ['{region}智慧居家社区养老服务监管平台', '{region} elderly-care supervision'],
  bs_wearers_online: ['在线佩戴者', 'Wearers online'],
  bs_wearers_total: ['共 {n} 台佩戴设备', '{n} wearables in all'],
  bs_alarms_today: ['今日告警', 'Alarms today'],
  bs_open_alarms: ['未结案告警', 'Open alarms'],
  bs_answer_time: ['接警时长', 'Time to answer'],
  bs_within_30s: ['30 秒内接警率', 'Answered within 30 s'],
  bs_p50: ['中位数', 'Median'],
  bs_p90: ['90 分位', '90th percentile'],
  bs_on_the_way: ['响应人员在途', 'Responders on the way'],
  bs_on_site: ['已到场', 'On site'],
  bs_card_coverage: ['70 岁以上服务卡覆盖率', 'Service cards, 70+'],
  bs_device_coverage: ['持卡老人设备覆盖率', 'Devices among card holders'],
  bs_elders: ['在册老人', 'Elders registered'],
  bs_facilities: ['服务设施', 'Facilities'],
  bs_live_feed: ['实时动态', 'Live feed'],
  bs_services_pending: ['服务订单 · 助餐 · 评价', 'Orders · meals · ratings'],
  bs_legend_normal: ['正常', 'Normal'],
  bs_legend_alarm: ['告警', 'Alarm'],
  bs_legend_offline: ['离线', 'Offline'],
  bs_legend_facility: ['服务设施（15 分钟服务圈）', 'Facility (15-minute circle)'],
  bs_fullscreen: ['全屏', 'Full screen'],
  bs_last_30_days: ['近 30 天', 'Last 30 days'],
  bs_no_alarms: ['今日暂无告警', 'No alarms today'],
  seconds: ['{n} 秒', '{n} s'],
  minutes: ['{n} 分钟', '{n} min'],
  // console
  c_queue: ['告警队列', 'Alarm queue'],
  c_queue_empty: ['当前没有未结案的告警', 'No open alarms'],
  c_answer: ['接警', 'Answer'],
  c_open: ['查看', 'Open'],
  c_select_alarm: ['请选择左侧的告警', 'Pick an alarm from the queue'],
  c_priority: ['优先级 {p}', 'Priority {p}'],
  c_waiting: ['已等待', 'Waiting'],
  c_elapsed: ['用时', 'Elapsed'],
  c_target: ['目标 {t}', 'target {t}'],
  c_timer_answer: ['接警', 'Answer'],
  c_timer_on_site: ['到场', 'On site'],
  c_timer_family: ['家属知晓', 'Family informed'],
  c_profile: ['老人信息', 'Elder'],
  c_health: ['健康档案', 'Health record'],
  c_contacts: ['紧急联系人', 'Emergency contacts'],
  c_vitals: ['最新体征', 'Latest vital signs'],
  c_trace: ['跌倒加速度曲线', 'Fall acceleration trace'],
  c_trace_none: ['暂无加速度数据', 'No acceleration trace'],
  c_map: ['位置与附近响应人员', 'Location and nearest responders'],
  c_timeline: ['处置记录', 'Timeline'],
  c_notifications: ['通知记录', 'Notifications'],
  c_actions: ['处置', 'Actions'],
  c_assess: ['研判', 'Assess'],
  c_dispatch_nearest: ['派遣最近人员', 'Dispatch nearest'],
  c_dispatch_to: ['派遣', 'Dispatch'],
  c_called_120: ['已呼叫 120', '120 called'],
  c_notify_family: ['通知家属', 'Notify family'],
  c_close: ['结案', 'Close'],
  c_outcome: ['处置结果', 'Outcome'],
  c_notes: ['备注', 'Notes'],
  c_done: ['已完成', 'Done'],
  c_withheld: ['无权查看', 'Not shown for your role'],
  c_responders: ['附近响应人员', 'Nearest responders'],
  c_no_responders: ['附近暂无可派遣人员', 'No responder available nearby'],
  c_eta: ['约 {m} 分钟', 'about {m} min'],
  c_sound_on: ['提示音：开', 'Sound: on'],
  c_sound_off: ['提示音：关', 'Sound: off'],
  c_live: ['实时连接', 'Live'],
  c_offline_feed: ['连接中断，正在重连', 'Feed lost; reconnecting'],
  c_closed_alarms: ['最近结案', 'Recently closed'],
  c_device: ['设备', 'Device'],
  c_raised_at: ['告警时间', 'Raised at'],
  c_escalated: ['已升级', 'Escalated'],
  f_name: ['姓名', 'Name'],
  f_sex: ['性别', 'Sex'],
  f_age: ['年龄', 'Age'],
  f_id_number: ['身份证号', 'ID number'],
  f_phone: ['电话', 'Phone'],
  f_address: ['住址', 'Address'],
  f_region: ['所属区划', 'Region'],
  f_living: ['居住状况', 'Living'],
  f_economic: ['经济状况', 'Economic status'],
  f_capability: ['能力等级', 'Capability level'],
  f_hukou: ['户籍', 'Hukou'],
  f_card: ['服务卡', 'Service card'],
  f_balance: ['卡余额', 'Card balance'],
  f_status: ['状态', 'Status'],
  f_chronic: ['慢性病', 'Chronic conditions'],
  f_allergies: ['过敏史', 'Allergies'],
  f_medications: ['用药', 'Medications'],
  f_blood: ['血型', 'Blood type'],
  f_doctor: ['家庭医生', 'Family doctor'],
  f_relation: ['关系', 'Relation'],
  f_heart_rate: ['心率', 'Heart rate'],
  f_bp: ['血压', 'Blood pressure'],
  f_spo2: ['血氧', 'SpO2'],
  f_battery: ['电量', 'Battery'],
  f_last_seen: ['最近在线', 'Last seen'],
  f_online: ['在线状态', 'Online'],
  f_serial: ['序列号', 'Serial'],
  f_kind: ['类型', 'Kind'],
  f_model: ['型号', 'Model'],
  f_elder: ['佩戴老人', 'Wearer'],
  f_active: ['启用', 'Active'],
  f_role: ['角色', 'Role'],
  f_display_name: ['姓名', 'Name'],
  f_facility: ['所属机构', 'Facility'],
  f_opening: ['开放时间', 'Opening hours'],
  f_radius: ['服务半径', 'Service radius'],
  f_operator_org: ['运营机构', 'Operator'],
  f_skills: ['技能', 'Skills'],
  f_masked: ['已脱敏', 'masked'],
  sex_male: ['男', 'Male'],
  sex_female: ['女', 'Female'],
  living_alone: ['独居', 'Alone'],
  living_empty_nest: ['空巢', 'Empty nest'],
  living_with_children: ['与子女同住', 'With children'],
  living_institutional: ['集中供养', 'In an institution'],
  living_other: ['其他', 'Other'],
  econ_dibao: ['低保', 'Dibao'],
  econ_tekun: ['特困', 'Tekun'],
  econ_wubao: ['五保', 'Wubao'],
  econ_hardship: ['经济困难', 'Hardship'],
  cap_intact: ['能力完好', 'Intact'],
  cap_mild: ['轻度失能', 'Mildly impaired'],
  cap_moderate: ['中度失能', 'Moderately impaired'],
  cap_severe: ['重度失能', 'Severely impaired'],
  cap_total: ['完全失能', 'Totally impaired'],
  hukou_urban: ['城镇', 'Urban'],
  hukou_rural: ['农村', 'Rural'],
  dev_pendant: ['智能胸牌', 'Pendant'],
  dev_watch: ['智能手表', 'Watch'],
  dev_bedside_button: ['床头呼叫器', 'Bedside button'],
  dev_smoke_detector: ['烟感报警器', 'Smoke detector'],
  dev_door_sensor: ['门磁', 'Door sensor'],
  fac_centre: ['综合服务中心', 'Service centre'],
  fac_station: ['助老服务站', 'Service station'],
  fac_day_care: ['日间照料中心', 'Day-care centre'],
  fac_canteen: ['社区食堂', 'Community canteen'],
  fac_meal_point: ['助餐点', 'Meal point'],
  fac_central_kitchen: ['中央厨房', 'Central kitchen'],
  fac_nursing_home: ['养老院', 'Nursing home'],
  fac_happiness_courtyard: ['幸福小院', 'Happiness courtyard'],
  econ_general: ['一般', 'General'],
  status_active: ['在册', 'Active'],
  status_moved_away: ['迁出', 'Moved away'],
  status_deceased: ['已故', 'Deceased'],
  online: ['在线', 'Online'],
  offline: ['离线', 'Offline'],
  in_alarm: ['告警中', 'In alarm'],
  never_seen: ['未接入', 'Never connected'],
  // registry
  r_search_placeholder: ['姓名、身份证号或电话', 'Name, ID number or phone'],
  r_street: ['街道/乡镇', 'Street/township'],
  r_age_min: ['最低年龄', 'Min age'],
  r_has_device: ['有设备', 'Has a device'],
  r_has_card: ['有服务卡', 'Has a card'],
  r_tab_record: ['档案', 'Record'],
  r_tab_devices: ['设备', 'Devices'],
  r_tab_alarms: ['告警', 'Alarms'],
  r_tab_orders: ['服务订单', 'Orders'],
  r_tab_meals: ['助餐', 'Meals'],
  r_back: ['返回列表', 'Back to the list'],
  r_no_items: ['没有符合条件的记录', 'Nothing matches'],
  r_export: ['导出 Excel', 'Export to Excel'],
  r_template: ['下载模板', 'Download the template'],
  r_import: ['导入台账', 'Import a ledger'],
  r_choose_file: ['选择文件（.xlsx 或 .csv）', 'Choose a file (.xlsx or .csv)'],
  r_dry_run: ['仅校验，不写入', 'Validate only, write nothing'],
  r_upload: ['上传', 'Upload'],
  r_report: ['导入结果', 'Import report'],
  r_report_summary: ['共 {total} 行，有效 {valid} 行；新增 {inserted}，更新 {updated}，未变 {unchanged}', '{total} rows, {valid} valid; {inserted} added, {updated} updated, {unchanged} unchanged'],
  r_row: ['行号', 'Row'],
  r_column: ['列', 'Column'],
  r_value: ['内容', 'Value'],
  r_problem: ['问题', 'Problem'],
  r_no_errors: ['没有错误', 'No errors'],
  r_warnings: ['提示', 'Warnings'],
  r_export_hint: ['按当前筛选条件导出，脱敏规则与页面一致。', 'Exports with the current filters, masked as on screen.'],
  r_import_hint: ['支持 .xlsx 与 UTF-8/GBK 编码的 .csv；逐行校验，有错误的行不写入并列在下方。', '.xlsx and UTF-8/GBK .csv; every row is checked, rows with errors are skipped and listed below.'],
  r_facility_kind: ['设施类型', 'Kind'],
  // family / caregiver
  fam_title: ['我的家人', 'My family'],
  fam_no_elder: ['您的账号尚未关联老人，请联系服务站。', 'No elder is linked to your account yet; ask the service station.'],
  fam_recent_alarms: ['告警记录', 'Alarms'],
  fam_no_alarms: ['暂无告警', 'No alarms'],
  fam_orders_payments: ['服务订单与缴费', 'Orders and payments'],
  fam_safe: ['当前无未处理告警', 'No open alarm'],
  fam_alarm_open: ['有告警正在处理', 'An alarm is being handled'],
  cg_title: ['助老员工作台', 'Caregiver'],
  cg_dispatches: ['派给我的紧急任务', 'Emergencies sent to me'],
  cg_none: ['暂无派单', 'Nothing sent to you'],
  cg_accept: ['接受', 'Accept'],
  cg_decline: ['拒绝', 'Decline'],
  cg_on_site: ['已到达', 'On site'],
  cg_my_elders: ['我服务的老人', 'Elders I serve'],
  cg_grab: ['附近可抢订单 · 我的订单 · 签到签退 · 评价', 'Orders nearby · my orders · check-in/out · ratings'],
  services_title: ['服务与助餐', 'Services and meals'],
  services_items: ['订单看板、派单与投诉；菜单、助餐订单、生产与配送清单；结算报表', 'Order board, assignment and complaints; menus, meal orders, production and delivery lists; statements'],
  forbidden_page: ['您的角色无权查看此页面', 'Your role may not see this page'],
} as const satisfies Record<string, readonly [string, string]>;

export type Key = keyof typeof dict;

let lang: Lang = (localStorage.getItem('zhulao.lang') as Lang) === 'en' ? 'en' : 'zh';

export function currentLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('zhulao.lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

/** The string for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  let s: string = dict[key][lang === 'zh' ? 0 : 1];
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  }
  return s;
}

/** A vocabulary code (alarm kind, stage, living …) in the current language; the code itself if unknown. */
export function label(prefix: string, code: string | null | undefined): string {
  if (code == null) return t('dash');
  const key = `${prefix}_${code}` as Key;
  return key in dict ? t(key) : code;
}

export function fmtTime(ms: number | null | undefined): string {
  if (ms == null) return t('dash');
  const d = new Date(ms);
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
}

export function fmtClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
}

/** 75 → "1:15"; under a minute "42 秒". */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null) return t('dash');
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('seconds', { n: s });
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export function fmtPct(x: number | null | undefined): string {
  return x == null ? t('dash') : `${(x * 100).toFixed(1)}%`;
}

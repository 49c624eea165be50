//! Error messages in the caller's language: Chinese (zh-CN) or English, by
//! `Accept-Language` (q-values honoured; English when neither is asked for). The `code`
//! never changes; in Chinese the `message` is the code's sentence from [`zh`], and the
//! English text, which may name a field or a value, follows as `detail`.
//!
//! One layer does it for every error answer (handlers, extractors, the fallback route), so
//! no handler carries a second copy of its messages.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Error bodies are small; a larger one is passed through untouched.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The languages answers come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
}

impl Language {
    /// The preferred of zh and en in an `Accept-Language` header (`zh-CN,zh;q=0.9,en;q=0.8`);
    /// English when the header names neither, or is absent.
    pub fn from_accept_language(header: Option<&str>) -> Language {
        let mut best = (0.0_f32, Language::English);
        for part in header.unwrap_or_default().split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Language::Chinese
            } else if tag == "en" || tag.starts_with("en-") {
                Language::English
            } else {
                continue;
            };
            if q > best.0 {
                best = (q, lang);
            }
        }
        best.1
    }
}

/// The Chinese sentence for an error code; a generic one by status for a code not listed.
pub fn zh(code: &str, status: u16) -> &'static str {
    match code {
        // Accounts and tokens.
        "invalid_credentials" => "用户名或密码错误",
        "account_disabled" => "账号已停用",
        "rate_limited" => "尝试次数过多，请稍后再试",
        "missing_token" => "未登录：缺少访问令牌",
        "invalid_token" => "访问令牌无效",
        "token_expired" => "访问令牌已过期，请刷新或重新登录",
        "refresh_reused" => "刷新令牌已被使用，该设备的会话已全部注销，请重新登录",
        "refresh_revoked" => "刷新令牌已注销，请重新登录",
        "device_id_required" => "请提供设备编号",
        "device_mismatch" => "令牌不属于此设备",
        "device_revoked" => "此设备已被注销",
        "device_in_use" => "设备编号已被其他账号使用",
        "actor_taken" => "该编辑者标识已属于其他设备",
        "weak_password" => "密码太弱：至少 12 个字符",
        "wrong_password" => "原密码错误",
        "old_password_required" => "修改自己的密码需要提供原密码",
        "session_expired" => "登录已过期，请重新登录",
        "csrf_failed" => "页面校验失败，请刷新页面后重试",
        "use_the_app" => "网格员请使用手机应用，控制台不对网格员开放",
        // Permission and scope.
        "not_permitted" => "您的角色无权进行此操作",
        "personal_data_forbidden" => "您无权查看当事人个人信息",
        "out_of_scope" => "超出您的管辖范围",
        "area_out_of_scope" => "该区域超出您的管辖范围",
        // Not found.
        "not_found" => "未找到",
        "case_not_found" => "您的管辖范围内没有此案件",
        "user_not_found" => "没有此用户",
        "org_not_found" => "没有此组织机构",
        "device_not_found" => "没有此设备",
        "item_not_found" => "没有此条目",
        "unknown_org" => "没有此组织机构",
        // Input.
        "invalid_input" => "输入有误",
        "invalid_json" => "请求内容不是有效的 JSON",
        "invalid_query" => "查询参数有误",
        "invalid_action" => "操作内容有误",
        "invalid_code" => "代码无效",
        "invalid_date" => "日期格式有误（应为 YYYY-MM-DD）",
        "invalid_month" => "月份格式有误（应为 YYYY-MM）",
        "invalid_period" => "统计期间有误",
        "invalid_group_by" => "分组方式有误",
        "invalid_area" | "invalid_area_code" => "区划代码有误",
        "invalid_scope_prefix" => "管辖范围代码有误",
        "invalid_tier" => "层级有误",
        "invalid_role" => "角色有误",
        "invalid_kind" => "组织类型有误",
        "invalid_name" => "名称有误",
        "invalid_id" => "编号有误",
        "invalid_username" => "用户名有误",
        "invalid_parent" => "上级组织有误",
        "parent_required" => "请指定上级组织",
        "area_outside_parent" => "区域不在上级组织的范围内",
        "children_outside_area" => "下级组织将超出新的区域",
        "role_org_mismatch" => "该角色不能属于此类组织",
        "nothing_to_change" => "没有需要修改的内容",
        "body_too_large" => "请求内容过大",
        "body_timeout" => "请求内容发送超时",
        "body_incomplete" => "请求内容不完整",
        "malformed_cbor"
        | "trailing_bytes"
        | "bad_compression"
        | "decoded_too_large"
        | "limit_exceeded"
        | "unsupported_protocol" => "同步数据格式有误",
        // Evidence (attachments' bytes).
        "attachment_not_found" => "您的管辖范围内没有此证据材料",
        "offset_mismatch" => "上传位置不一致，请从服务器已收到的位置继续",
        "invalid_offset" => "上传位置有误",
        "invalid_content_type" => "上传内容类型有误",
        "too_large" => "文件超过大小限制",
        "hash_mismatch" => "文件校验失败，已丢弃，请重新上传",
        "unsupported_media" => "不接受此类文件（可执行文件或压缩包）",
        "quota_exceeded" => "今日上传量已达上限，请明天再试",
        "range_not_satisfiable" => "请求的范围超出文件大小",
        "thumbnail_unavailable" => "此照片无法生成缩略图",
        // The public's pages.
        "code_locked" => "验证码错误次数过多，请重新获取",
        "daily_limit" => "今日提交次数已达上限",
        // Conflicts and state.
        "conflict" => "与现有数据冲突",
        "key_in_use" => "此签名密钥已登记在另一台设备上",
        "invalid_signing_key" => "签名公钥格式有误",
        "bad_signature" => "签名校验失败",
        "signature_required" => "本中心要求对每项修改签名，请升级应用",
        "bundle_invalid" => "证据包校验失败",
        "invalid_transition" => "案件当前状态不允许此操作",
        "username_taken" => "用户名已被使用",
        "org_exists" => "组织机构编号已存在",
        "last_admin" => "不能停用或降级最后一名管理员",
        "cannot_change_self" => "不能修改自己的角色或组织",
        "cannot_disable_self" => "不能停用自己的账号",
        "cannot_revoke_own_device" => "不能注销当前使用的设备，请退出登录",
        // The server.
        "busy" => "服务器繁忙，请稍后重试",
        "case_unavailable" | "malformed_document" => "案件暂时无法打开，已通知管理员",
        "method_not_allowed" => "此地址不支持该请求方法",
        "internal" | "storage" | "disk_full" | "read_only" | "store_too_new" => {
            "服务器内部错误，已记录"
        }
        _ => match status {
            400 => "请求有误",
            401 => "未登录或登录已失效",
            403 => "无权进行此操作",
            404 => "未找到",
            409 => "与当前状态冲突",
            429 => "请求过于频繁",
            503 => "服务暂不可用",
            _ => "请求失败",
        },
    }
}

/// The layer: error answers in the caller's language.
pub async fn localize(request: Request, next: Next) -> Response {
    let language = Language::from_accept_language(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let rewritten = match language {
        Language::English => None,
        Language::Chinese => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|mut v| {
                let code = v.get("code")?.as_str()?.to_owned();
                let english = v.get("message")?.as_str()?.to_owned();
                v["message"] = zh(&code, status.as_u16()).into();
                v["detail"] = english.into();
                serde_json::to_vec(&v).ok()
            }),
    };
    parts.headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(match language {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    match rewritten {
        Some(body) => Response::from_parts(parts, Body::from(body)),
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_chinese_and_english() {
        use Language::*;
        let long = "x,".repeat(10_000);
        let cases = [
            (None, English),
            (Some(""), English),
            (Some("zh-CN"), Chinese),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Chinese),
            (Some("en-US,en;q=0.9,zh-CN;q=0.8"), English),
            (Some("zh;q=0.5,en;q=0.6"), English),
            (Some("fr-FR,zh-TW;q=0.7"), Chinese),
            (Some("fr-FR"), English),
            (Some("ZH-cn"), Chinese),
            (Some(";;,q=,zh;q=abc"), Chinese),
            (Some(long.as_str()), English),
        ];
        for (header, want) in cases {
            assert_eq!(Language::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn every_code_has_a_sentence_and_unknown_codes_fall_back_by_status() {
        assert_eq!(zh("invalid_credentials", 401), "用户名或密码错误");
        assert_eq!(zh("some_new_code", 404), "未找到");
        assert_eq!(zh("some_new_code", 418), "请求失败");
        // Evidence and the public's pages say what happened, not just the status's words.
        for code in [
            "hash_mismatch",
            "unsupported_media",
            "quota_exceeded",
            "code_locked",
        ] {
            assert_ne!(zh(code, 400), zh("some_new_code", 400), "{code}");
        }
    }
}

//! Test vectors of `docs/protocol/alipay-v2.md` §2.1, §3.1 and `docs/protocol/alipay-v3.md` §2.1, §3.1 (throwaway keys generated for them
//! document; their private halves were not kept).

/// A.2: the app public key of the worked request example (also used by B.1).
pub const A2_APP_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwZSv6DzS6DNf1ukRi+nX
g7VK0qX7+s8EKqtpha6FMsC7zGBI+32100xu8voQiYISBAiPk6TyGXtiJbsg2WY6
Mh1Q9zm0L7wuWNUCACfI+7NznfjAyrZU/CyuB5NR4vRlnFUFvkt0Q3kwIED//FV8
UI8jZ9tKplyYcb+vzdvUoUr6mcSVAuz8gkFhzhPzDuQhghikBb9+vgoXT5Arhqfw
gKu5W9CLTAapVGAokBFWAdBpHQht4LocWZk73HuZ2hcXE2yDjp1qy38ZKGXPWJpQ
JA1UVNAp+loqVqBhnVVpQxfbGA1rLb9egsBNELFbM7pW8Apm20okljpUWpCotkLt
DQIDAQAB
-----END PUBLIC KEY-----
";

/// A.2: the string to sign (173 UTF-8 bytes).
pub const A2_SIGN_CONTENT: &str = "app_id=2021000000000001&biz_content={\"out_trade_no\":\"T1 中文\"}&charset=utf-8&format=json&method=alipay.trade.query&sign_type=RSA2&timestamp=2024-01-01 12:00:00&version=1.0";

/// A.2: SHA-256 of [`A2_SIGN_CONTENT`].
pub const A2_SIGN_CONTENT_SHA256: &str =
    "fede32a93e1815fea419168e43444a1606a35afcbf2a12e0524a78cf81ce1a98";

/// A.2: the RSA2 signature of [`A2_SIGN_CONTENT`].
pub const A2_SIGN: &str = "wFWIh9hDKWJyZSXvIBCZnU/82a5qJyI0me2vf0qp3PU27DcqVd1OzPeWVN/FPfHQqDIbE2ai64dyVCk7uvuvShdEXzi7Hgc9+aus6uaMfSM+7oU1gQ4GYahubbzjYLSSr93DOXUfUJP4XOZNZAKAruxce1kECkf2VAKi6a8VOg9b5N4B+67w2x8smwsTitSOIUpmapS+QliBDbXDM4QWCSlMlkXHV+hgMrkFqJ6hD8pFgN1t9F3XG7LsKI42YspQY9A31trEJHtkElbn+Zne94InBt29CVvNYEiLNlNGAZJm4UIIoh7CmLODDjm/0aAkv6IcsBWeCwk13Poc8kN+oQ==";

/// A.2: the URL query PYO sends (the `sign` value abbreviated in the document is filled in from
/// [`A2_SIGN`], percent-encoded as `quote_plus` does).
pub fn a2_query() -> String {
    format!(
        "timestamp=2024-01-01+12%3A00%3A00&app_id=2021000000000001&method=alipay.trade.query&charset=utf-8&format=json&version=1.0&sign_type=RSA2&sign={}",
        A2_SIGN.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
    )
}

/// A.2: the form body PYO sends.
pub const A2_BODY: &str = "biz_content=%7B%22out_trade_no%22%3A%22T1+%E4%B8%AD%E6%96%87%22%7D";

/// A.3: the Alipay public key of the response example (also used by B.2).
pub const A3_ALIPAY_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+JLcHLpOojKSdb/k/AqP
FVxFIXpfbH5+tzt0dZf9vX/AbAodpMqEH4XNF/2UwMrHQWNtrcQwLFtbAxfSrJNV
1FDpvYX6s4lWbl2hYTEgEHWA1nwi/csT9Jj23tC7L/Q6AKr+D/Cq/vXmGgWAyEXU
mmzdbsN4M0IQzDhoZrH6FbNLkhTmjEZTDxOpjwmEQw0rACWen8td8a9e03Y6O05s
DRNC2azqmuUKAwGI2UThhejQQYkn/M0aUO+O4Y5RRSEPFQOWFK7NJod7cAU69IYD
pI3vJyjNU66xhnqhSw/NiO4Ky0LPD/OpRLpuHQEQl5HQCwiYhTdTZFmRoH7gK18C
YQIDAQAB
-----END PUBLIC KEY-----
";

/// A.3: the signed response body.
pub const A3_RESPONSE: &str = r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","buyer_logon_id":"abc***@example.com","buyer_pay_amount":"0.00","buyer_user_id":"2088102177846880","invoice_amount":"0.00","out_trade_no":"T1","point_amount":"0.00","receipt_amount":"0.00","send_pay_date":"2024-01-01 12:00:05","total_amount":"88.88","trade_no":"2024010122001446880500000001","trade_status":"TRADE_SUCCESS"},"sign":"zSuRppbEUoFhlDYSU3MM4OG3D497SUMRjsm4bW5KZL+2gvskJ8t6xaSh2y5oACzgv/m8bQbzP9aL06K+9a/rhGeWuCENS7QY45AqOcFu80Kr2+L5Cbmz02Ccrd3pcdoHv7A90CgdzV9UWOAgdi44NaBT0C9Yrfr7E4FTvBMsCE1Ji5I4+26+pSIWmKWmNS0TP7FBoyp9VFZZDgErWGIglPCGRnBN4dhcH7tBKKCFRBT04j0uYUvf+rxxUQW7getLVQ4+Ti9bHTSwcSQ4KwMGpz7GEzAbV/47ijkXbz1IGD+Xi8i8o35a3doreVLSvE709JC0JHB6UiL8bjU/flMwUA=="}"#;

/// B.1: the request's Authorization header.
pub const B1_AUTHORIZATION: &str = "ALIPAY-SHA256withRSA app_id=2021000000000001,nonce=5f2b8c4e-1d3a-4b7e-9c11-0a1b2c3d4e5f,timestamp=1704081600000,sign=lAAgwWPBBmZ0hyy02I5KTgDqDwIvKRFkC5v051ungQ4qAk1fpLosL58nxf2jVL+6nRiPp25hpZIYSuhzVdYwnykaxAi5A3d6JuCVq6Y+Gi1bVt3aTAg7BsQpgBXbVlkr/cocgRtx0Z0p+lwZ7aCoVqXHtnwZc3NbwCfm5/fOUUG2K1BBlFoCSvDLAAt8t848Z4c7cOsv051pZcbGmY2IXoxQ6e0vFEZCe5RnQdAIoDOx/fHc/OmMYVM9HqpJmx/XVrpJUWd8Lz5nQkUnpRmRQULupb/1srpQcNif1c6QZvLZL2D5bcaZojcjSdEChr9vqJ15/Qs/ddMExvOpATS/Zg==";

/// B.1: the string-to-sign of that request.
pub const B1_SIGN_CONTENT: &str = "app_id=2021000000000001,nonce=5f2b8c4e-1d3a-4b7e-9c11-0a1b2c3d4e5f,timestamp=1704081600000\nPOST\n/v3/alipay/trade/query\n{\"out_trade_no\":\"T1\"}\n";

/// B.2: response timestamp header.
pub const B2_TIMESTAMP: &str = "1704081600321";
/// B.2: response nonce header.
pub const B2_NONCE: &str = "8a1f0c2d3e4b5a6978695a4b3c2d1e0f";
/// B.2: response body.
pub const B2_BODY: &str = r#"{"out_trade_no":"T1","total_amount":"88.88","trade_no":"2024010122001446880500000001","trade_status":"TRADE_SUCCESS"}"#;
/// B.2: response signature header.
pub const B2_SIGN: &str = "3EV/iVXYq65FtV0pcMHQENXasHzVG1Z1lZDLB5VJJM+LONPEzA05/q+0pacjklkdUkN0OwHrvhBtYVhaeUDvqOqYbovSIFNE0a/YPYCOgiCi80wLIGTqa+MoDKm7QCsSJ5ZIE3uBLJx4fev9lFkmn8/nwpQwXsB5ZI8acFpNgtX4htSTQR+iyLRhLm7xTOg275p+nj10dIJPNLOrZdI72PI1LoWtop+h9MBq/cCwgRQImNSJYPCAty4LWHponneQSjyOogAxtYOJ66my+2YwLazlZeToJGHJ6Q0pHZlWCP7rf1pIWovHp/Q27dJis4cHiMsHTQzJmNuQR89tRMpQ9w==";

//! `GET /v1/records/{kind}/{key}/answers`: a record as each method that serves its kind would
//! answer for it, for the record's own merchant.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use tradeq_model::{Record, Timestamp};
use tradeq_wire::view::{write_json_string, Node};

use super::error::AdminError;
use super::records::kind_and_key;
use crate::methods::alipay_trade_query::{self, QueryOptions};
use crate::methods::{
    edi_alipay_trade_query, koubei_trade_itemorder_query, omni_order_query,
    xlife_onsite_trade_query, Caller, Method,
};
use crate::state::AppState;

/// The business answer of every method serving `record`, as the method builds it before a front
/// door wraps it in its envelope. `alipay.trade.query` shows every optional block
/// (`query_options` asking for all of them); time-dependent fields are computed at the sandbox
/// clock's now. Reading them is not a query: lifecycles do not move.
pub fn answers(record: &Record, now: Timestamp) -> Vec<(Method, Node)> {
    let caller = Caller {
        merchant: record.merchant().to_string(),
        always_fund_bill_list: false,
    };
    match record {
        Record::AlipayTrade(t) => {
            let all = QueryOptions {
                trade_settle_info: true,
                fund_bill_list: true,
                voucher_detail_list: true,
                discount_goods_detail: true,
                mdiscount_amount: true,
            };
            let mut edi = Node::obj();
            edi.push("data", edi_alipay_trade_query::edi_view(t, &all, &caller));
            vec![
                (
                    Method::AlipayTradeQuery,
                    alipay_trade_query::trade_view(t, &all, &caller),
                ),
                (Method::EdiAlipayTradeQuery, edi),
            ]
        }
        Record::KoubeiOrder(o) => vec![(
            Method::KoubeiTradeItemorderQuery,
            koubei_trade_itemorder_query::order_view(o),
        )],
        Record::OnsiteTrade(t) => {
            let mut root = Node::obj();
            root.push(
                "onsite_trade_query_response",
                xlife_onsite_trade_query::trade_view(t, now),
            );
            vec![(Method::XlifeOnsiteTradeQuery, root)]
        }
        Record::OmniOrder(o) => {
            let mut result = Node::obj();
            result.push("model", omni_order_query::order_view(o));
            result.push("success", Node::Bool(true));
            let mut root = Node::obj();
            root.push("result", result);
            vec![(Method::OmniOrderQuery, root)]
        }
    }
}

/// `GET /v1/records/{kind}/{key}/answers` → `{"<method>": <answer>, …}`, fields in the order
/// the method writes them.
pub async fn get_answers(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AdminError> {
    let (kind, key) = kind_and_key(path)?;
    let Some(record) = state.store.get(kind, &key).await? else {
        return Err(AdminError::not_found(format!(
            "no {kind} with {} `{key}`",
            kind.primary_key_name()
        )));
    };
    let mut out = String::from("{");
    for (i, (method, node)) in answers(&record, Timestamp(state.sandbox.now()))
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        write_json_string(method.name(), &mut out);
        out.push(':');
        node.write_json_ordered(&mut out);
    }
    out.push('}');
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response())
}

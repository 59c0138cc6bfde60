//! Look of the buyer's pages (hosted checkout, result page, cashier) on top of `html.rs`'s
//! layout, and the card-network, store and SPEI marks drawn as inline SVG: nothing is fetched.
//! One column on a phone (nothing wider than 390 px), summary beside the payment on a desktop;
//! the method tabs are radio buttons and CSS, so the pages stay script-free.

/// Styles for the buyer's pages.
pub const CSS: &str = "<style>\
main{box-sizing:border-box;width:calc(100% - 1em);max-width:960px;padding:1.2em;margin:1em auto}\
main *{box-sizing:border-box}\
code,.ref,.mono{overflow-wrap:anywhere;word-break:break-word}\
img,svg{max-width:100%}\
.shop{display:flex;align-items:center;gap:.8em;margin-bottom:1em;min-width:0}\
.shop h1{margin:0;font-size:1.3em;overflow-wrap:anywhere}.shop small{display:block}\
.logo{flex:0 0 2.6em;height:2.6em;border-radius:50%;background:#0a1a6b;color:#fff;display:flex;\
align-items:center;justify-content:center;font-weight:bold;font-size:1.1em}\
.checkout{display:grid;gap:1.2em;grid-template-columns:minmax(0,1fr)}\
@media (min-width:760px){.checkout{grid-template-columns:minmax(0,1fr) minmax(0,1.3fr)}}\
.summary{background:#f7f8fc;border-radius:8px;padding:1em;min-width:0;align-self:start}\
.total{font-size:1.5em;font-weight:bold;margin:.2em 0}\
.items{list-style:none;padding:0;margin:.8em 0}\
.items li{display:flex;justify-content:space-between;gap:.8em;padding:.35em 0;border-bottom:1px solid #e3e5ef}\
.items span:first-child{min-width:0;overflow-wrap:anywhere}\
.items span:last-child{white-space:nowrap}\
.expiry{color:#6b5200;background:#fff4cc;border-radius:6px;padding:.5em .7em}\
.methods{min-width:0}\
.tab-input{position:absolute;opacity:0;pointer-events:none;width:1px;height:1px}\
.tablist{display:flex;gap:.4em;margin:.6em 0}\
.tab{flex:1 1 0;min-width:0;display:flex;flex-direction:column;align-items:center;gap:.3em;\
border:2px solid #dde;border-radius:8px;padding:.5em .3em;cursor:pointer;font-size:.9em;text-align:center;\
margin:0;overflow-wrap:anywhere}\
.tab svg{height:1.6em;width:auto}\
@media (max-width:420px){.tab{font-size:.78em;padding:.5em .15em}}\
.panel{display:none;border:1px solid #dde;border-radius:8px;padding:1em;min-width:0}\
#tab-card:checked~#card,#tab-cash:checked~#cash,#tab-bank_transfer:checked~#bank_transfer{display:block}\
#tab-card:checked~.tablist label[for=tab-card],#tab-cash:checked~.tablist label[for=tab-cash],\
#tab-bank_transfer:checked~.tablist label[for=tab-bank_transfer]{border-color:#0a1a6b;background:#eef0fb;font-weight:bold}\
.tab-input:focus-visible~.tablist{outline:2px dashed #0a1a6b}\
.marks{display:flex;flex-wrap:wrap;gap:.4em;align-items:center;margin:.3em 0 .8em}\
.marks svg{height:1.8em;width:auto}\
.panel label{display:block;margin:.5em 0;font-size:.95em}\
.panel input,.panel select{display:block;width:100%;margin-top:.2em;padding:.55em;font-size:1em;\
border:1px solid #bbc;border-radius:6px}\
.row{display:flex;gap:.8em}.row label{flex:1 1 0;min-width:0}\
.pay{display:block;width:100%;margin-top:1em;padding:.8em;font-size:1.05em;border-radius:6px}\
.ref{font-family:ui-monospace,monospace;font-size:1.3em;letter-spacing:.06em}.facts .ref{font-size:1.05em;letter-spacing:.02em}\
.barcode{display:block;width:100%;max-width:320px;height:auto;margin:.4em 0}\
.steps{padding-left:1.2em}.others{color:#555;font-size:.9em}\
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.3em .8em;margin:.8em 0}\
.facts dt{color:#555}.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}\
.verdict{display:flex;align-items:center;gap:.6em}.verdict svg{flex:0 0 2.4em;height:2.4em}\
.links{display:flex;flex-wrap:wrap;gap:.6em;margin-top:1em}\
.links a{flex:1 1 12em;text-align:center;padding:.7em;border-radius:6px;border:1px solid #0a1a6b;\
color:#0a1a6b;text-decoration:none}\
.links a.primary{background:#0a1a6b;color:#fff}\
.cashier form{display:grid;gap:.6em}.cashier input{width:100%;padding:.55em;font-size:1em}\
.cashier li{overflow-wrap:anywhere}\
pre{max-width:100%;white-space:pre-wrap;overflow-wrap:anywhere}\
</style>";

/// A card network's mark (`visa`, `mastercard`, `american_express`), or nothing for others.
pub fn brand_mark(brand: &str) -> &'static str {
    match brand {
        "visa" => "<svg viewBox=\"0 0 48 30\" role=\"img\" aria-label=\"Visa\"><rect width=\"48\" height=\"30\" rx=\"4\" fill=\"#1a1f71\"/>\
<text x=\"24\" y=\"20\" text-anchor=\"middle\" font-family=\"Arial,sans-serif\" font-weight=\"700\" font-style=\"italic\" font-size=\"13\" fill=\"#fff\">VISA</text></svg>",
        "mastercard" => "<svg viewBox=\"0 0 48 30\" role=\"img\" aria-label=\"Mastercard\"><rect width=\"48\" height=\"30\" rx=\"4\" fill=\"#fff\" stroke=\"#ccd\"/>\
<circle cx=\"19\" cy=\"15\" r=\"9\" fill=\"#eb001b\"/><circle cx=\"29\" cy=\"15\" r=\"9\" fill=\"#f79e1b\"/>\
<path d=\"M24 7.4a9 9 0 0 1 0 15.2a9 9 0 0 1 0-15.2z\" fill=\"#ff5f00\"/></svg>",
        "american_express" => "<svg viewBox=\"0 0 48 30\" role=\"img\" aria-label=\"American Express\"><rect width=\"48\" height=\"30\" rx=\"4\" fill=\"#2e77bc\"/>\
<text x=\"24\" y=\"19\" text-anchor=\"middle\" font-family=\"Arial,sans-serif\" font-weight=\"700\" font-size=\"11\" fill=\"#fff\">AMEX</text></svg>",
        _ => "",
    }
}

/// A generic card, for the card tab.
pub const CARD_MARK: &str = "<svg viewBox=\"0 0 48 30\" aria-hidden=\"true\"><rect x=\"1\" y=\"1\" width=\"46\" height=\"28\" rx=\"4\" fill=\"#eef0fb\" stroke=\"#0a1a6b\" stroke-width=\"2\"/>\
<rect x=\"1\" y=\"7\" width=\"46\" height=\"5\" fill=\"#0a1a6b\"/><rect x=\"6\" y=\"19\" width=\"14\" height=\"4\" rx=\"1\" fill=\"#0a1a6b\"/></svg>";

/// A convenience store with its awning, for cash.
pub const STORE_MARK: &str = "<svg viewBox=\"0 0 48 30\" role=\"img\" aria-label=\"Pago en tienda\"><rect width=\"48\" height=\"30\" rx=\"4\" fill=\"#fff4cc\"/>\
<rect x=\"11\" y=\"12\" width=\"26\" height=\"14\" fill=\"#fff\" stroke=\"#6b5200\"/>\
<path d=\"M9 12l3-7h24l3 7z\" fill=\"#d62828\"/><path d=\"M15 5l-1 7M21 5v7M27 5v7M33 5l1 7\" stroke=\"#fff\" stroke-width=\"2\"/>\
<rect x=\"21\" y=\"17\" width=\"6\" height=\"9\" fill=\"#6b5200\"/><rect x=\"13\" y=\"15\" width=\"6\" height=\"5\" fill=\"#9ad\"/>\
<rect x=\"29\" y=\"15\" width=\"6\" height=\"5\" fill=\"#9ad\"/></svg>";

/// SPEI, Mexico's interbank transfers.
pub const SPEI_MARK: &str = "<svg viewBox=\"0 0 48 30\" role=\"img\" aria-label=\"SPEI\"><rect width=\"48\" height=\"30\" rx=\"4\" fill=\"#00695c\"/>\
<text x=\"24\" y=\"19.5\" text-anchor=\"middle\" font-family=\"Arial,sans-serif\" font-weight=\"700\" font-size=\"12\" fill=\"#fff\">SPEI</text></svg>";

/// A check in a green circle: the payment went through.
pub const PAID_MARK: &str = "<svg viewBox=\"0 0 40 40\" aria-hidden=\"true\"><circle cx=\"20\" cy=\"20\" r=\"19\" fill=\"#1e8e3e\"/>\
<path d=\"M11 21l6 6 12-13\" fill=\"none\" stroke=\"#fff\" stroke-width=\"4\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/></svg>";

/// A cross in a red circle: the payment was refused.
pub const DECLINED_MARK: &str = "<svg viewBox=\"0 0 40 40\" aria-hidden=\"true\"><circle cx=\"20\" cy=\"20\" r=\"19\" fill=\"#c5221f\"/>\
<path d=\"M13 13l14 14M27 13L13 27\" stroke=\"#fff\" stroke-width=\"4\" stroke-linecap=\"round\"/></svg>";

/// A clock in an amber circle: still waiting.
pub const PENDING_MARK: &str = "<svg viewBox=\"0 0 40 40\" aria-hidden=\"true\"><circle cx=\"20\" cy=\"20\" r=\"19\" fill=\"#e0a800\"/>\
<path d=\"M20 10v11l7 4\" fill=\"none\" stroke=\"#fff\" stroke-width=\"4\" stroke-linecap=\"round\"/></svg>";

/// The shop's header: an initial in a circle and the name.
pub fn shop_header(shop: &str, subtitle: &str) -> String {
    let initial = shop
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_else(|| "T".to_owned());
    format!(
        "<header class=\"shop\"><div class=\"logo\" aria-hidden=\"true\">{}</div>\
<div><h1 id=\"shop-name\">{}</h1><small>{}</small></div></header>",
        super::html::escape(&initial),
        super::html::escape(shop),
        subtitle
    )
}

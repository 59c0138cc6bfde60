//! Look and small scripts of the developer pages (the inbox and the order page), on top of the
//! shared layout of `html.rs`. Cards instead of wide tables and long ids that wrap, so nothing
//! scrolls sideways on a 390 px phone. Inline only: the pages fetch nothing from elsewhere.

/// Styles for the inbox and the order page.
pub const CSS: &str = "<style>\
main{box-sizing:border-box;width:calc(100% - 1em);padding:1.2em}\
.mono,code{font-family:ui-monospace,monospace;overflow-wrap:anywhere;word-break:break-word}\
.bar{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:.8em 0}\
.bar form{margin:0}.bar input{min-width:0;flex:1 1 12em;box-sizing:border-box}\
.switch button{background:#e6e8f5;color:#0a1a6b;padding:.45em .8em}\
.switch button[aria-pressed=true]{background:#0a1a6b;color:#fff}\
.card{border:1px solid #dde;border-radius:8px;padding:.8em;margin:.8em 0;min-width:0}\
.card h3{margin:0 0 .4em;font-size:1em;display:flex;flex-wrap:wrap;gap:.4em;align-items:baseline}\
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em .8em;margin:.4em 0}\
.facts dt{color:#555}.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}\
.badge{display:inline-block;border-radius:999px;padding:.1em .6em;font-size:.8em;background:#eee}\
.badge.good{background:#e0f5e4;color:#135c22}.badge.bad{background:#fde2e2;color:#8a1111}\
.badge.wait{background:#fff4cc;color:#6b5200}\
.attempts{margin:.3em 0;padding-left:1.2em}\
details pre{max-width:100%;box-sizing:border-box;white-space:pre-wrap;overflow-wrap:anywhere}\
.actions{display:flex;flex-wrap:wrap;gap:.5em}.actions button{flex:1 1 11em}\
.result{margin:.6em 0;min-height:1.5em;overflow-wrap:anywhere}\
</style>";

/// Rewrites every `<time data-unix>` under `root` in the browser's time zone and locale.
pub const LOCAL_TIMES_JS: &str = "function localTimes(root){\
root.querySelectorAll('time[data-unix]').forEach(function(t){\
t.textContent=new Date(Number(t.dataset.unix)*1000).toLocaleString();});}\
localTimes(document);";

// The widget's style sheet, injected into its shadow root. Isolation from the host page:
// the page's selectors cannot reach into the shadow tree, and `:host { all: initial
// !important }` stops inherited properties (font-size, colour, line-height…) at the host
// element — an !important rule inside the shadow tree beats the page's !important rules on
// the host. Every size is in px, because a page may change the root font size behind `rem`.
import type { WidgetConfig } from "./config.ts";

export function widgetCss(config: Pick<WidgetConfig, "color" | "colorText">): string {
  return `
:host{all:initial!important;display:contents!important}
.root{--accent:${config.color};--accent-text:${config.colorText};--border:#d9dce3;--muted:#5b6170;
font:400 14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1b1d21;text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none}
*,*::before,*::after{box-sizing:border-box;margin:0;padding:0}
[hidden]{display:none!important}
button,textarea{font:inherit;color:inherit;letter-spacing:inherit}
button{cursor:pointer;border:0;background:none}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.launcher,.panel{position:fixed;z-index:2147483647;bottom:20px;right:20px}
.left .launcher,.left .panel{right:auto;left:20px}
.launcher{width:56px;height:56px;border-radius:50%;background:var(--accent);color:var(--accent-text);
display:flex;align-items:center;justify-content:center;box-shadow:0 4px 16px rgba(0,0,0,.25)}
.launcher svg{width:28px;height:28px;fill:currentColor}
.panel{width:380px;max-width:calc(100vw - 32px);height:560px;max-height:calc(100vh - 40px);
display:flex;flex-direction:column;background:#fff;border:1px solid var(--border);border-radius:12px;
overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25)}
.header{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;background:var(--accent);color:var(--accent-text)}
.title{flex:1;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.close{width:32px;height:32px;border-radius:6px;font-size:22px;line-height:1;color:inherit}
.close:hover{background:rgba(127,127,127,.25)}
.messages{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:12px;background:#f7f7f8}
.msg{max-width:88%;padding:10px 12px;border-radius:12px;overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--accent);color:var(--accent-text);white-space:pre-wrap;border-bottom-right-radius:4px}
.assistant{align-self:flex-start;background:#fff;border:1px solid var(--border);border-bottom-left-radius:4px}
.assistant p+p{margin-top:8px}
.streaming{white-space:pre-wrap}
.pending{color:var(--muted);font-style:italic}
.abstained{color:var(--muted)}
strong{font-weight:700}em{font-style:italic}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f0f1f4;padding:1px 4px;border-radius:4px}
a{color:var(--accent);text-decoration:underline}
.user a{color:inherit}
sup{font-size:11px;line-height:0;vertical-align:super}
.cite{text-decoration:none;font-weight:600;padding:0 1px}
.sources{margin-top:10px;padding-top:8px;border-top:1px solid var(--border);font-size:12px;color:var(--muted)}
.sources-title{font-weight:600;margin-bottom:2px}
.sources ol{padding-left:20px}
.sources li{padding:1px 2px;border-radius:4px}
.sources li.flash{background:#fff3c4}
.where{color:var(--muted)}
.error{color:#b42318;margin-top:6px}
.retry{color:var(--accent);text-decoration:underline;font-weight:600;padding:0 2px}
.composer{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid var(--border);background:#fff}
.input{flex:1;min-height:40px;max-height:120px;resize:none;padding:9px 10px;border:1px solid var(--border);
border-radius:8px;background:#fff;line-height:1.4;display:block;width:100%}
.send{height:40px;padding:0 14px;border-radius:8px;background:var(--accent);color:var(--accent-text);font-weight:600}
.send:disabled{opacity:.55;cursor:default}
@media (max-width:480px){.panel{top:0;left:0!important;right:0;bottom:0;width:auto;height:auto;max-width:none;max-height:none;border-radius:0;border:0}}
`;
}

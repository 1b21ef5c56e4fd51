// The widget's style sheet, injected into its shadow root. Isolation from the host page:
// the page's selectors cannot reach into the shadow tree, and `:host { all: initial
// !important }` stops inherited properties (font-size, colour, line-height…) at the host
// element — an !important rule inside the shadow tree beats the page's !important rules on
// the host. Every size is in px, because a page may change the root font size behind `rem`.
// Light and dark themes follow `prefers-color-scheme`; both keep text at WCAG AA contrast
// (links and focus rings use the accent only where it is dark enough on white).
import type { WidgetConfig } from "./config.ts";

export function widgetCss(config: Pick<WidgetConfig, "color" | "colorText">): string {
  // A dark accent (white text on it) reads on white; a light one does not, so links fall back.
  const link = config.colorText === "#ffffff" ? config.color : "#1f3bb3";
  return `
:host{all:initial!important;display:contents!important}
.root{--accent:${config.color};--accent-text:${config.colorText};--link:${link};--border:#d9dce3;--muted:#5b6170;
--fg:#1b1d21;--bg:#fff;--bg2:#f7f7f8;--code:#f0f1f4;--err:#b42318;--flash:#fff3c4;
font:400 14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--fg);text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none}
@media (prefers-color-scheme:dark){.root{--link:#a8bdff;--border:#3a3f4b;--muted:#b3b9c6;--fg:#eceef2;
--bg:#1c1f26;--bg2:#14161b;--code:#2b2f38;--err:#ff9b8f;--flash:#4a4220}}
*,*::before,*::after{box-sizing:border-box;margin:0;padding:0}
[hidden]{display:none!important}
button,textarea{font:inherit;color:inherit;letter-spacing:inherit}
button{cursor:pointer;border:0;background:none}
:focus-visible{outline:2px solid var(--link);outline-offset:2px}
.header :focus-visible{outline-color:var(--accent-text)}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.launcher,.panel{position:fixed;z-index:2147483647;bottom:20px;right:20px}
.left .launcher,.left .panel{right:auto;left:20px}
.top .launcher,.top .panel{bottom:auto;top:20px}
.launcher{width:56px;height:56px;border-radius:50%;background:var(--accent);color:var(--accent-text);
display:flex;align-items:center;justify-content:center;box-shadow:0 4px 16px rgba(0,0,0,.25)}
.launcher svg{width:28px;height:28px;fill:currentColor}
.panel{width:380px;max-width:calc(100vw - 32px);height:560px;max-height:calc(100vh - 40px);
display:flex;flex-direction:column;background:var(--bg);border:1px solid var(--border);border-radius:12px;
overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25);animation:bitb-in .16s ease-out}
@keyframes bitb-in{from{opacity:0;transform:translateY(8px)}}
.header{display:flex;align-items:center;gap:4px;padding:12px 12px 12px 16px;background:var(--accent);color:var(--accent-text)}
.title{flex:1;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.close,.icon{width:32px;height:32px;border-radius:6px;font-size:22px;line-height:1;color:inherit;display:inline-flex;align-items:center;justify-content:center}
.icon svg{width:18px;height:18px;fill:currentColor}
.close:hover,.icon:hover{background:rgba(127,127,127,.25)}
.mute[aria-pressed=true] svg{opacity:.5}
.mute[aria-pressed=true]::after{content:"";position:absolute;width:20px;height:2px;background:currentColor;transform:rotate(-45deg)}
.mute{position:relative}
.messages{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:12px;background:var(--bg2)}
.msg{max-width:88%;padding:10px 12px;border-radius:12px;overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--accent);color:var(--accent-text);white-space:pre-wrap;border-bottom-right-radius:4px}
.assistant{align-self:flex-start;background:var(--bg);border:1px solid var(--border);border-bottom-left-radius:4px}
.assistant p+p{margin-top:8px}
.streaming{white-space:pre-wrap}
.pending{color:var(--muted);font-style:italic}
.abstained{color:var(--muted)}
.starters{display:flex;flex-wrap:wrap;gap:6px}
.starter{border:1px solid var(--border);background:var(--bg);border-radius:16px;padding:5px 12px;color:var(--link);text-align:left}
.actions{display:flex;gap:2px;margin-top:6px;color:var(--muted)}
.actions .icon{width:28px;height:28px}
.actions .down svg{transform:rotate(180deg)}
.actions [aria-pressed=true]{color:var(--link);background:var(--code)}
strong{font-weight:700}em{font-style:italic}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);padding:1px 4px;border-radius:4px}
a{color:var(--link);text-decoration:underline}
.user a{color:inherit}
sup{font-size:11px;line-height:0;vertical-align:super}
.cite{text-decoration:none;font-weight:600;padding:0 1px}
.sources{margin-top:10px;padding-top:8px;border-top:1px solid var(--border);font-size:12px;color:var(--muted)}
.sources-title{font-weight:600;margin-bottom:2px}
.sources ol{padding-left:20px}
.sources li{padding:1px 2px;border-radius:4px;transition:background .3s}
.sources li.flash{background:var(--flash)}
.where{color:var(--muted)}
.error{color:var(--err);margin-top:6px}
.retry{color:var(--link);text-decoration:underline;font-weight:600;padding:0 2px}
.composer{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid var(--border);background:var(--bg)}
.input{flex:1;min-height:40px;max-height:120px;resize:none;padding:9px 10px;border:1px solid var(--border);
border-radius:8px;background:var(--bg);line-height:1.4;display:block;width:100%}
.input::placeholder{color:var(--muted);opacity:1}
.send{height:40px;padding:0 14px;border-radius:8px;background:var(--accent);color:var(--accent-text);font-weight:600}
.send:disabled{opacity:.55;cursor:default}
@media (max-width:480px){.panel{top:0;left:0!important;right:0;bottom:0;width:auto;height:auto;max-width:none;max-height:none;border-radius:0;border:0}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important;scroll-behavior:auto!important}}
`;
}

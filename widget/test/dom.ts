// A small window for the widget's DOM tests (no jsdom or happy-dom here): linkedom's document
// and a plain EventTarget as the window, so `window.BiTB` stays in the test's own window
// (linkedom's defaultView writes through to Node's globalThis). linkedom has no layout, so
// scrolling is a no-op.
import { Event as DomEvent, parseHTML } from "linkedom";

export type TestWindow = Window & typeof globalThis;

export function createWindow(
  html = "<!doctype html><html><head></head><body></body></html>",
): TestWindow {
  const { document } = parseHTML(html);
  const proto = Object.getPrototypeOf(document.createElement("div")) as {
    scrollIntoView?: () => void;
  };
  proto.scrollIntoView ??= function scrollIntoView() {};
  // Events for DOM nodes must be linkedom's own; the window is Node's EventTarget.
  return Object.assign(new EventTarget(), { document, Event: DomEvent }) as unknown as TestWindow;
}

/** A keyboard-like event: linkedom has no KeyboardEvent, so the fields are set by hand. */
export function keyEvent(
  win: TestWindow,
  type: string,
  init: { key: string; shiftKey?: boolean; isComposing?: boolean },
): Event {
  const event = new win.Event(type, { bubbles: true, cancelable: true });
  return Object.assign(event, { shiftKey: false, isComposing: false, ...init });
}

export function click(win: TestWindow, target: Element): Event {
  const event = new win.Event("click", { bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
}

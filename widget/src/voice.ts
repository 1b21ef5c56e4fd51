// The spoken greeting: when the tenant turned it on, the greeting is read aloud the first time
// the visitor opens the chat in a session (that click is the user gesture browsers require),
// unless they muted it — a choice remembered in localStorage across visits.
import type { Language } from "./i18n.ts";

export type VoiceStorage = Pick<Storage, "getItem" | "setItem">;

export const MUTE_KEY = "bitb:voice-muted";

export function isMuted(storage: VoiceStorage | null): boolean {
  try {
    return storage?.getItem(MUTE_KEY) === "1";
  } catch {
    return false;
  }
}

export function setMuted(storage: VoiceStorage | null, muted: boolean): void {
  try {
    storage?.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch {
    // Blocked storage: the choice lasts as long as the page.
  }
}

export interface Speech {
  speak(utterance: SpeechSynthesisUtterance): void;
  cancel(): void;
}

/** Speaks `text`; false when the browser has no speech synthesis. */
export function speak(win: Window, text: string, language: Language): boolean {
  const synthesis = (win as { speechSynthesis?: Speech }).speechSynthesis;
  const Utterance = (win as { SpeechSynthesisUtterance?: typeof SpeechSynthesisUtterance })
    .SpeechSynthesisUtterance;
  if (!synthesis || !Utterance) return false;
  const utterance = new Utterance(text);
  utterance.lang = language;
  synthesis.cancel();
  synthesis.speak(utterance);
  return true;
}

export function stopSpeaking(win: Window): void {
  (win as { speechSynthesis?: Speech }).speechSynthesis?.cancel();
}

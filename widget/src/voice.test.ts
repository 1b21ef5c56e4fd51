import { describe, expect, it, vi } from "vitest";
import { isMuted, MUTE_KEY, setMuted, speak, stopSpeaking } from "./voice.ts";

class MemoryStorage {
  items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe("the voice greeting", () => {
  it("remembers the mute in storage, and survives blocked storage", () => {
    const storage = new MemoryStorage();
    expect(isMuted(storage)).toBe(false);
    setMuted(storage, true);
    expect(storage.getItem(MUTE_KEY)).toBe("1");
    expect(isMuted(storage)).toBe(true);
    setMuted(storage, false);
    expect(isMuted(storage)).toBe(false);
    const blocked = {
      getItem(): string {
        throw new Error("SecurityError");
      },
      setItem() {
        throw new Error("SecurityError");
      },
    };
    expect(isMuted(blocked)).toBe(false);
    expect(() => setMuted(blocked, true)).not.toThrow();
    expect(isMuted(null)).toBe(false);
  });

  it("speaks in the widget's language where the browser can, and stops", () => {
    const synthesis = { speak: vi.fn(), cancel: vi.fn() };
    class Utterance {
      lang = "";
      constructor(readonly text: string) {}
    }
    const win = { speechSynthesis: synthesis, SpeechSynthesisUtterance: Utterance } as never;
    expect(speak(win, "Bonjour", "fr")).toBe(true);
    expect(synthesis.speak).toHaveBeenCalledWith(
      expect.objectContaining({ text: "Bonjour", lang: "fr" }),
    );
    stopSpeaking(win);
    expect(synthesis.cancel).toHaveBeenCalledTimes(2);
    expect(speak({} as never, "Hi", "en")).toBe(false);
    expect(() => stopSpeaking({} as never)).not.toThrow();
  });
});

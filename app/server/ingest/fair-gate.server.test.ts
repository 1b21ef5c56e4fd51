import { describe, expect, it } from "vitest";
import { FairGate } from "./fair-gate.server.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("FairGate", () => {
  it("hands turns round-robin between tenants, not in arrival order", async () => {
    const gate = new FairGate(1);
    const order: string[] = [];
    await gate.acquire("a"); // a's first batch holds the only turn
    const steps = [
      gate.acquire("a").then(() => order.push("a2")),
      gate.acquire("a").then(() => order.push("a3")),
      gate.acquire("a").then(() => order.push("a4")),
      gate.acquire("b").then(() => order.push("b1")),
      gate.acquire("c").then(() => order.push("c1")),
    ];
    for (let i = 0; i < 5; i++) {
      gate.release();
      await tick();
    }
    await Promise.all(steps);
    expect(order).toEqual(["a2", "b1", "c1", "a3", "a4"]);
  });

  it("lets as many steps run at once as it has turns", async () => {
    const gate = new FairGate(2);
    let running = 0;
    let most = 0;
    await Promise.all(
      ["a", "a", "b", "b", "c"].map((tenant) =>
        gate.run(tenant, async () => {
          running++;
          most = Math.max(most, running);
          await tick();
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(gate.waitingTenants).toBe(0);
  });

  it("gives the turn back when a step throws", async () => {
    const gate = new FairGate(1);
    await expect(gate.run("a", () => Promise.reject(new Error("bad")))).rejects.toThrow("bad");
    await expect(gate.run("b", () => "ok")).resolves.toBe("ok");
  });
});

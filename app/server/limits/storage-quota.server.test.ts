import { describe, expect, it } from "vitest";
import {
  assertStorageRoom,
  initialStorageLimits,
  type StorageQuota,
  StorageQuotaError,
} from "./storage-quota.server.ts";

const quota = (change: Partial<StorageQuota> = {}): StorageQuota => ({
  maxDocuments: 3,
  maxChunks: 100,
  maxTextBytes: 10_000,
  documents: 1,
  chunks: 40,
  textBytes: 4000,
  pendingJobs: 1,
  ...change,
});

describe("storage quotas", () => {
  it("counts queued jobs as documents to be, and refuses past the quota with 413", () => {
    expect(() => assertStorageRoom(quota(), { documents: 1 })).not.toThrow();
    const refusal = (() => {
      try {
        assertStorageRoom(quota(), { documents: 2 });
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(StorageQuotaError);
    expect(refusal).toMatchObject({
      status: 413,
      code: "quota_exceeded",
      message: "This knowledge base is at its plan's quota of 3 documents.",
    });
  });

  it("refuses what a document would add past the chunk or text quota", () => {
    const job = { documents: 1, countPending: false };
    expect(() => assertStorageRoom(quota(), { ...job, chunks: 60 })).not.toThrow();
    expect(() => assertStorageRoom(quota(), { ...job, chunks: 61 })).toThrow("quota of 100 chunks");
    expect(() => assertStorageRoom(quota(), { ...job, textBytes: 6001 })).toThrow(
      "quota of 10,000 bytes of text",
    );
    // At the chunk quota exactly, no new document fits.
    expect(() => assertStorageRoom(quota({ chunks: 100 }), { documents: 1 })).toThrow(
      "quota of 100 chunks",
    );
  });

  it("has no limit where the plan sets none, and gives a trial the configured ones", () => {
    const none = { maxDocuments: null, maxChunks: null, maxTextBytes: null };
    expect(() =>
      assertStorageRoom(quota({ ...none, documents: 1e6 }), { documents: 5, chunks: 1e9 }),
    ).not.toThrow();
    const config = { TRIAL_MAX_DOCUMENTS: 5, TRIAL_MAX_CHUNKS: 6, TRIAL_MAX_TEXT_BYTES: 7000 };
    expect(initialStorageLimits(config, "trial")).toEqual({
      maxDocuments: 5,
      maxChunks: 6,
      maxTextBytes: 7000,
    });
    expect(initialStorageLimits(config, "business")).toEqual(none);
  });
});

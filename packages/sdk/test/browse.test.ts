import { expect } from "chai";
import { queryPaged } from "@triad/sdk";

/**
 * Paged log queries: the browse helpers read events in pages of blocks, and a node that refuses a range as too large
 * (public nodes cap `eth_getLogs`) gets smaller pages, down to one block, without losing or repeating a block.
 */
describe("queryPaged", function () {
  /** A node whose getLogs answers one "log" per block of the range and refuses ranges wider than `cap` blocks. */
  function cappedNode(cap: number) {
    const calls: [number, number][] = [];
    const query = async (from: number, to: number) => {
      calls.push([from, to]);
      if (to - from + 1 > cap) throw Object.assign(new Error("query returned more than 10000 results"), { code: -32005 });
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    };
    return { calls, query };
  }

  it("reads every block once, in order, in pages of pageSize", async function () {
    const node = cappedNode(Infinity);
    const progress: number[] = [];
    const logs = await queryPaged(node.query, { fromBlock: 5, toBlock: 29, pageSize: 10, onProgress: (to) => progress.push(to) });
    expect(logs).to.deep.equal(Array.from({ length: 25 }, (_, i) => 5 + i));
    expect(node.calls).to.deep.equal([
      [5, 14],
      [15, 24],
      [25, 29],
    ]);
    expect(progress).to.deep.equal([14, 24, 29]);
  });

  it("halves the page when the node refuses the range, and keeps the smaller page", async function () {
    const node = cappedNode(3);
    const logs = await queryPaged(node.query, { fromBlock: 0, toBlock: 9, pageSize: 16 });
    expect(logs).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
    // 16 → 8 → 4 → 2 refused down to a page the node accepts; then pages of 2.
    expect(node.calls.filter(([a, b]) => b - a + 1 <= 3).every(([a, b]) => b - a + 1 === 2)).to.equal(true);
  });

  it("an error that is not about the range is not retried", async function () {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("connection refused");
    };
    await queryPaged(failing, { fromBlock: 0, toBlock: 100 }).then(
      () => expect.fail("should throw"),
      (err: Error) => expect(err.message).to.equal("connection refused"),
    );
    expect(calls).to.equal(1);
  });

  it("an empty range reads nothing", async function () {
    const node = cappedNode(Infinity);
    expect(await queryPaged(node.query, { fromBlock: 10, toBlock: 9 })).to.deep.equal([]);
    expect(node.calls).to.deep.equal([]);
  });
});

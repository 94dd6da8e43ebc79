import { expect } from "chai";
import "@triad/sdk/node";
import { deviceRegistryDomain, deviceTopic } from "@triad/sdk";
import { checkEnvelope, type Envelope } from "../src/verify.ts";
import { createEnvelopeVerifier } from "../src/verify-pool.ts";
import { newDevices, payload, signed } from "./helpers.ts";

describe("stage 1 of the verification on worker threads (verify-pool)", function () {
  this.timeout(60_000);
  const chainId = 31337n;
  const domain = deviceRegistryDomain(chainId, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  const [device, stranger] = newDevices(2);
  const topic = deviceTopic(chainId, device.address, "readings");

  /** Good readings and every stage-1 rejection, interleaved, as one turn's worth of messages. */
  function messages(count: number): { topic: string; body: Uint8Array }[] {
    return Array.from({ length: count }, (_, i) => {
      const seq = BigInt(i + 1);
      switch (i % 6) {
        case 1:
          return { topic: "triad/v1/31337/x/readings", body: payload(signed(device, domain, seq)) }; // WRONG_TOPIC
        case 2:
          return { topic, body: Buffer.from(`{"seq":"${seq}"}`) }; // MALFORMED, with its seq
        case 3:
          return { topic, body: payload(signed(stranger, domain, seq, { device: device.address })) }; // BAD_SIGNATURE
        case 4:
          return { topic: deviceTopic(chainId, device.address, "alerts"), body: payload(signed(device, domain, seq)) }; // WRONG_TOPIC
        default:
          return { topic, body: payload(signed(device, domain, seq)) };
      }
    });
  }

  it("decides every message as checkEnvelope does inline, each promise its own message, with batches over two workers", async function () {
    const verifier = createEnvelopeVerifier({ workers: 2, chainId, domain, maxBatch: 16 });
    try {
      await verifier.ready();
      const given = messages(300);
      const results = await Promise.all(given.map((m) => verifier.check(m.topic, m.body)));
      const inline: Envelope[] = given.map((m) => checkEnvelope(m.topic, m.body, { chainId, domain }));
      expect(results).to.deep.equal(inline);
      const reasons = new Set(results.map((r) => (r.ok ? "OK" : r.reason)));
      expect([...reasons].sort()).to.deep.equal(["BAD_SIGNATURE", "MALFORMED", "OK", "WRONG_TOPIC"]);
      const good = results.find((r) => r.ok);
      expect(good?.ok && good.reading).to.deep.include({ device: device.address, seq: 1n });
      // a second turn after the first is answered uses the same workers
      const again = await verifier.check(topic, payload(signed(device, domain, 1000n)));
      expect(again.ok && again.reading.seq).to.equal(1000n);
    } finally {
      await verifier.close();
    }
  });

  it("closing answers what is still outstanding with UNAVAILABLE (not acknowledged: the device resends), and refuses more", async function () {
    const verifier = createEnvelopeVerifier({ workers: 1, chainId, domain });
    const pending = messages(50).map((m) => verifier.check(m.topic, m.body));
    await verifier.close();
    const results = await Promise.all(pending);
    expect(results.map((r) => (r.ok ? "OK" : r.reason))).to.deep.equal(Array(50).fill("UNAVAILABLE"));
    const late = await verifier.check(topic, payload(signed(device, domain, 1n)));
    expect(late).to.deep.include({ ok: false, reason: "UNAVAILABLE" });
  });

  it("with workers: 0 runs inline", async function () {
    const verifier = createEnvelopeVerifier({ workers: 0, chainId, domain });
    expect(verifier.workers).to.equal(0);
    const r = await verifier.check(topic, payload(signed(device, domain, 5n)));
    expect(r.ok && r.reading.seq).to.equal(5n);
    await verifier.close();
  });
});

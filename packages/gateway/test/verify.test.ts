import { expect } from "chai";
import "@triad/sdk/node";
import { deviceRegistryDomain, deviceTopic, sensorSchemaId, AI4I_SCHEMA } from "@triad/sdk";
import { AI4I_VALUE_RANGES } from "../src/config.ts";
import type { DeviceState } from "../src/registry-cache.ts";
import { schemaRules, verifyReading, type VerifyContext } from "../src/verify.ts";
import { newDevices, nowSeconds, payload, signed } from "./helpers.ts";

describe("verifyReading (the pure verification stage)", function () {
  const [device, stranger] = newDevices(2);
  const domain = deviceRegistryDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  const active: DeviceState = {
    device: device.address,
    owner: stranger.address,
    status: "Active",
    sensorSchema: sensorSchemaId(AI4I_SCHEMA),
  };
  const ctx = (...given: [DeviceState | null | undefined] | []): VerifyContext => ({
    chainId: 31337n,
    domain,
    device: () => (given.length === 0 ? active : given[0]),
    schemas: schemaRules({ [AI4I_SCHEMA]: AI4I_VALUE_RANGES }),
    nowSeconds: Number(nowSeconds()),
    maxClockSkewSeconds: 300,
  });
  const topic = deviceTopic(31337n, device.address, "readings");

  it("accepts a good reading and returns it with its EIP-712 digest", function () {
    const r = signed(device, domain, 7n);
    const v = verifyReading(topic, payload(r), ctx());
    expect(v.ok).to.equal(true);
    if (v.ok)
      expect(v.reading)
        .to.deep.include({ seq: 7n, device: device.address, signature: r.signature })
        .and.to.have.property("digest")
        .that.matches(/^0x[0-9a-f]{64}$/);
  });

  it("checks in the documented order and names the reason, seq and device", function () {
    const r = signed(device, domain, 7n);
    const reason = (t: string, body: Uint8Array, c = ctx()) => {
      const v = verifyReading(t, body, c);
      return v.ok ? "OK" : `${v.reason}/${v.seq ?? "-"}`;
    };
    expect(reason("triad/v1/31337/x/readings", payload(r))).to.equal("WRONG_TOPIC/-");
    expect(reason(topic, Buffer.from("[1]"))).to.equal("MALFORMED/-");
    expect(reason(topic, payload({ ...r, signature: r.signature.slice(0, -2) + "1f" }))).to.match(/^(BAD_SIGNATURE|MALFORMED)\/7$/);
    expect(reason(topic, payload(signed(stranger, domain, 7n, { device: device.address })))).to.equal("BAD_SIGNATURE/7");
    // a bad signature is reported before the registry is consulted
    expect(reason(topic, payload(signed(stranger, domain, 7n, { device: device.address })), ctx(null))).to.equal("BAD_SIGNATURE/7");
    expect(reason(topic, payload(r), ctx(undefined))).to.equal("UNAVAILABLE/7");
    expect(reason(topic, payload(r), ctx(null))).to.equal("UNKNOWN_DEVICE/7");
    expect(reason(topic, payload(r), ctx({ ...active, status: "Suspended" }))).to.equal("DEVICE_NOT_ACTIVE/7");
    expect(reason(topic, payload(r), ctx({ ...active, sensorSchema: sensorSchemaId("other/v1") }))).to.equal("SCHEMA_MISMATCH/7");
    // schema is checked before the clock
    expect(reason(topic, payload(signed(device, domain, 7n, { values: [1n], timestamp: 1n })))).to.equal("SCHEMA_MISMATCH/7");
    expect(reason(topic, payload(signed(device, domain, 7n, { timestamp: nowSeconds() + 301n })))).to.equal("CLOCK_SKEW/7");
    expect(reason(topic, payload(signed(device, domain, 7n, { timestamp: nowSeconds() + 290n })))).to.equal("OK");
  });
});

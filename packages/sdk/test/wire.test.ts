import { expect } from "chai";
import { Wallet, id } from "ethers";
import {
  WIRE_MAX_PAYLOAD_BYTES,
  WireFormatError,
  channelFilter,
  deviceRegistryDomain,
  deviceTopic,
  encodeWireReading,
  parseDeviceTopic,
  parseWireReading,
  recoverReading,
  signReading,
} from "../src/index.ts";

const device = new Wallet(id("triad/test/wire/device"));
const domain = deviceRegistryDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const encode = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

describe("sdk/wire", function () {
  it("topics: lower-case device on publish; checksummed or lower-case accepted on parse; anything else refused", function () {
    const topic = deviceTopic(31337, device.address, "readings");
    expect(topic).to.equal(`triad/v1/31337/${device.address.toLowerCase()}/readings`);
    expect(channelFilter(31337n, "readings")).to.equal("triad/v1/31337/+/readings");
    expect(parseDeviceTopic(topic)).to.deep.equal({ chainId: 31337n, device: device.address, channel: "readings" });
    expect(parseDeviceTopic(`triad/v1/31337/${device.address}/alerts`)?.device).to.equal(device.address);
    const badChecksum = device.address.slice(0, 2) + device.address.slice(2).replace(/[a-f]/, (c) => c.toUpperCase());
    for (const bad of [
      `triad/v2/31337/${device.address}/readings`,
      `triad/v1/0/${device.address}/readings`,
      `triad/v1/31337/${device.address}/other`,
      `triad/v1/31337/${device.address}/readings/x`,
      `triad/v1/31337/0x1234/readings`,
      `triad/v1/31337/${badChecksum}/readings`,
    ]) {
      expect(parseDeviceTopic(bad), bad).to.equal(undefined);
    }
  });

  it("round-trips a signed reading with integers as decimal strings, and the signature still recovers", async function () {
    const reading = await signReading(device, domain, {
      device: device.address,
      seq: 18_446_744_073_709_551_615n,
      timestamp: 1_700_000_000n,
      values: [298_100n, -(2n ** 63n), 2n ** 63n - 1n, 0n],
    });
    const bytes = encodeWireReading(reading);
    const json = JSON.parse(new TextDecoder().decode(bytes));
    expect(Object.keys(json)).to.deep.equal(["seq", "timestamp", "values", "signature"]);
    expect(json.seq).to.equal("18446744073709551615");
    expect(json.values[1]).to.equal("-9223372036854775808");
    const parsed = parseWireReading(bytes, device.address.toLowerCase());
    expect(parsed).to.deep.equal(reading);
    expect(recoverReading(domain, parsed)).to.equal(device.address);
  });

  it("refuses every malformed payload with a WireFormatError (seq reported when readable)", function () {
    const good = { seq: "7", timestamp: "1700000000", values: ["1"], signature: "0x" + "11".repeat(65) };
    const cases: [unknown, RegExp][] = [
      [{ ...good, seq: 7 }, /seq must be a decimal string/],
      [{ ...good, seq: "-1" }, /seq is outside uint64/],
      [{ ...good, timestamp: "18446744073709551616" }, /timestamp is outside uint64/],
      [{ ...good, values: [] }, /values must hold/],
      [{ ...good, values: ["1.5"] }, /values\[0\] must be a decimal string/],
      [{ ...good, values: ["9223372036854775808"] }, /values\[0\] is outside int64/],
      [{ ...good, signature: "0x1234" }, /signature must be 65 bytes/],
      [{ ...good, extra: 1 }, /unknown field "extra"/],
      [[good], /not a JSON object/],
    ];
    for (const [payload, message] of cases) {
      expect(() => parseWireReading(encode(payload), device.address), JSON.stringify(payload)).to.throw(WireFormatError, message);
    }
    expect(() => parseWireReading(new TextEncoder().encode("{"), device.address)).to.throw(WireFormatError, /not UTF-8 JSON/);
    expect(() => parseWireReading(new Uint8Array([0xff, 0xfe]), device.address)).to.throw(WireFormatError, /not UTF-8 JSON/);
    expect(() => parseWireReading(new Uint8Array(WIRE_MAX_PAYLOAD_BYTES + 1), device.address)).to.throw(WireFormatError, /exceeds/);
    try {
      parseWireReading(encode({ ...good, values: [] }), device.address);
    } catch (e) {
      expect((e as WireFormatError).seq).to.equal(7n);
      expect((e as WireFormatError).reason).to.equal("MALFORMED");
    }
  });
});

import { expect } from "chai";
import { Wallet, id, type Signer } from "ethers";
import { anchorAsGateway, deployTriad, ethers, networkHelpers } from "@triad/devkit";
import { deviceRegistryDomain, readingDigest, registerDevice, signAi4iRows, parseAi4iCsv } from "@triad/sdk";
import { fetchableUrl, type AppConfig } from "../src/lib/config.ts";
import { connectContracts } from "../src/lib/contracts.tsx";
import { errorSentence } from "../src/lib/errors.ts";
import { matchPath, parseHash } from "../src/lib/router.ts";
import { TrackingSigner, describeTransaction, type TxStep } from "../src/lib/tx.tsx";
import { verifyGatewayReading, type GatewayReading } from "../src/devices/data.ts";

/**
 * The web app's core (apps/web/src/lib) and the devices pages' checks against a real deployment on Hardhat's chain:
 * the transaction tracking every TxButton relies on, the error sentences, "verify this reading" on a real fleet
 * anchor. The pages themselves are driven in Chromium by e2e/web.
 */

const { loadFixture } = networkHelpers;

const ROWS = `UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF
1,M14860,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0
2,L47181,L,298.2,308.7,1408,46.3,3,0,0,0,0,0,0
3,L47182,L,298.1,308.5,1498,49.4,5,0,0,0,0,0,0`;

async function coreFixture() {
  const d = await deployTriad();
  const [, owner, , , gateway] = await ethers.getSigners();
  const config: AppConfig = {
    chainId: d.chainId,
    chainName: "Hardhat (in-process)",
    rpcUrl: "http://127.0.0.1:8545",
    deployment: d.record,
    proxied: { "http://127.0.0.1:40123": "/gateway" },
  };
  const deviceKey = new Wallet(id("triad/web/core-test/device"));
  await registerDevice(d.registry.connect(owner), { deviceKey });
  await (await d.registry.connect(owner).setGateway(await gateway.getAddress(), true)).wait();
  const domain = deviceRegistryDomain(BigInt(d.chainId), await d.registry.getAddress());
  const latest = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const readings = await signAi4iRows({ deviceKey, domain, rows: parseAi4iCsv(ROWS), startSeq: 1n, startTimestamp: latest - 300n });
  const anchor = await anchorAsGateway(d.registry.connect(gateway), readings);
  // The readings as the gateway's HTTP API serves them (decimal strings, anchor and proof).
  const served: GatewayReading[] = anchor.proven.map((p) => ({
    device: p.reading.device,
    seq: p.reading.seq.toString(),
    timestamp: p.reading.timestamp.toString(),
    values: p.reading.values.map(String),
    signature: p.reading.signature,
    digest: readingDigest(domain, p.reading),
    receivedAt: new Date().toISOString(),
    anchor: { root: anchor.root, gateway: anchor.gateway, status: "confirmed", txHash: null, blockNumber: 1, anchoredAt: null },
    proof: [...p.proof],
  }));
  return { d, config, owner, device: deviceKey.address, served };
}

function tracked(signer: Signer, config: AppConfig) {
  const steps: TxStep[] = [];
  const tracking = new TrackingSigner(signer, config, (s: TxStep) => steps.push(s));
  return { steps, contracts: connectContracts(config, tracking) };
}

describe("web app core (apps/web/src/lib)", function () {
  it("tracks every transaction an action sends: estimate and cost, sent, mined with the gas used", async function () {
    const { config, owner, device } = await loadFixture(coreFixture);
    const { steps, contracts } = tracked(owner, config);
    await (await contracts.registry.suspend(device)).wait();
    // The "mined" report arrives from its own wait(): give it the turn it needs.
    for (let i = 0; i < 50 && !steps.some((s) => s.stage === "mined"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(steps.map((s) => s.stage)).to.deep.equal(["estimating", "wallet", "pending", "mined"]);
    const mined = steps.at(-1)!;
    expect(mined.what).to.equal("DeviceRegistry.suspend");
    expect(mined.gas! > 21_000n).to.equal(true);
    expect(mined.cost! > 0n).to.equal(true);
    expect(mined.gasUsed! > 21_000n && mined.gasUsed! <= mined.gas!).to.equal(true);
    expect(mined.paid! > 0n).to.equal(true);
    expect(mined.hash).to.match(/^0x[0-9a-f]{64}$/);
    expect((await contracts.registry.getDevice(device)).status).to.equal(2n); // Suspended
  });

  it("reports a refusal before the wallet is asked, as the contract error's sentence", async function () {
    const { config, owner } = await loadFixture(coreFixture);
    const { steps, contracts } = tracked(owner, config);
    const stranger = Wallet.createRandom().address;
    let caught: unknown;
    try {
      await contracts.registry.suspend(stranger);
    } catch (err) {
      caught = err;
    }
    expect(caught, "suspending an unregistered device must fail").to.not.equal(undefined);
    expect(steps.map((s) => s.stage)).to.deep.equal(["estimating", "failed"]);
    expect(errorSentence(caught, { account: await owner.getAddress() })).to.equal(`device ${stranger} is not registered`);
  });

  it("words wallet refusals and other errors as one sentence", function () {
    expect(errorSentence({ code: 4001, message: "User rejected the request." })).to.equal("you declined the request in your wallet");
    expect(errorSentence({ code: "ACTION_REJECTED", shortMessage: "user rejected action" })).to.equal(
      "you declined the request in your wallet",
    );
    expect(errorSentence({ code: "INSUFFICIENT_FUNDS", message: "insufficient funds for gas" })).to.equal(
      "the account has not enough ETH to pay for gas",
    );
    expect(errorSentence(new Error("something broke\n    at stack line"))).to.equal("something broke");
  });

  it("names transactions by contract and function", async function () {
    const { d, config } = await loadFixture(coreFixture);
    const data = d.registry.interface.encodeFunctionData("setGateway", [Wallet.createRandom().address, true]);
    expect(describeTransaction(config, { to: await d.registry.getAddress(), data })).to.equal("DeviceRegistry.setGateway");
    expect(describeTransaction(config, { to: Wallet.createRandom().address, data: "0x" })).to.match(/^0x[0-9a-f]{6}….transfer$/);
  });

  it("verifies a reading served by the gateway: signature and proof in the browser, then verifyFleetReading", async function () {
    const { d, config, served } = await loadFixture(coreFixture);
    const registry = connectContracts(config, ethers.provider).registry;
    const ok = await verifyGatewayReading(config, registry, served[1]);
    expect(ok.ok, JSON.stringify(ok)).to.equal(true);
    expect(ok.onChain?.ok).to.equal(true);

    // A tampered value: the signature no longer recovers to the device, the proof leads elsewhere, the chain refuses.
    const tampered = { ...served[1], values: served[1].values.map((v, i) => (i === 2 ? String(BigInt(v) + 1n) : v)) };
    const bad = await verifyGatewayReading(config, registry, tampered);
    expect(bad.ok).to.equal(false);
    expect(bad.signature.ok).to.equal(false);
    expect(bad.proof.ok).to.equal(false);
    expect(bad.onChain?.ok).to.equal(false);

    // Not anchored yet: said as such, nothing asked of the chain.
    const pending = await verifyGatewayReading(config, registry, { ...served[0], anchor: null, proof: null });
    expect(pending.ok).to.equal(false);
    expect(pending.signature.ok).to.equal(true);
    expect(pending.proof.text).to.match(/^not anchored yet/);
    expect(await d.registry.getAddress()).to.equal(config.deployment.contracts.DeviceRegistry);
  });

  it("routes hash paths and rewrites proxied service URLs", function () {
    expect(parseHash("#/devices/0xAb?tab=anchors")).to.deep.include({ path: "/devices/0xAb", parts: ["devices", "0xAb"] });
    expect(parseHash("#/devices/0xAb?tab=anchors").query.get("tab")).to.equal("anchors");
    expect(parseHash("").path).to.equal("/");
    expect(matchPath("/insurance/claims/:id", "/insurance/claims/7")).to.deep.equal({ id: "7" });
    expect(matchPath("/insurance/claims/:id", "/insurance/claims")).to.equal(undefined);
    const config = { proxied: { "http://127.0.0.1:40123": "/gateway" } } as unknown as AppConfig;
    expect(fetchableUrl(config, "http://127.0.0.1:40123/v1/anchors/0x12")).to.equal("/gateway/v1/anchors/0x12");
    expect(fetchableUrl(config, "http://127.0.0.1:40123")).to.equal("/gateway");
    expect(fetchableUrl(config, "http://127.0.0.1:401234/x")).to.equal("http://127.0.0.1:401234/x");
    expect(fetchableUrl(config, "https://example.org/x")).to.equal("https://example.org/x");
  });
});

import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { insureNewDevice } from "../examples/dapp.ts";
import { deviceRegistryDomain, recoverReading, saveDeployment } from "@triad/sdk/node";
import { UNIT, deployTriad, ethers } from "@triad/devkit";

describe("README dApp example (examples/dapp.ts)", function () {
  const previous = process.env.TRIAD_DEPLOYMENTS_DIR;
  let dir = "";
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "triad-dapp-"));
    process.env.TRIAD_DEPLOYMENTS_DIR = dir;
  });
  after(() => {
    if (previous === undefined) delete process.env.TRIAD_DEPLOYMENTS_DIR;
    else process.env.TRIAD_DEPLOYMENTS_DIR = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers, insures and signs a reading against a fresh deployment", async function () {
    const deployment = await deployTriad();
    saveDeployment(deployment.record, dir);
    const [, owner, lp] = await ethers.getSigners();
    await deployment.token.connect(lp).approve(await deployment.pool.getAddress(), 100_000n * UNIT);
    await deployment.pool.connect(lp).deposit(100_000n * UNIT, lp.address);

    const deviceKey = ethers.Wallet.createRandom();
    const { policyId, reading } = await insureNewDevice(owner, new ethers.Wallet(deviceKey.privateKey, ethers.provider));

    const policy = await deployment.claims.getPolicy(policyId);
    expect(policy.device).to.equal(deviceKey.address);
    expect(await deployment.claims.ownerOf(policyId)).to.equal(owner.address);
    expect((await deployment.registry.ownerAndStatus(deviceKey.address)).owner).to.equal(owner.address);
    const domain = deviceRegistryDomain(deployment.chainId, await deployment.registry.getAddress());
    expect(recoverReading(domain, reading)).to.equal(deviceKey.address);
  });
});

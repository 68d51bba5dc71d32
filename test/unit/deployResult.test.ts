import { strict as assert } from "node:assert";
import { deployedInstance } from "../../components/deployResult";

describe("a host deploy's result line", () => {
    it("gives the instance id the app echoed, from the last result line", () => {
        const out = 'Deploying 1.0.0\nbluegreen-deploy {"instance":"00aa"}\nbluegreen-deploy {"instance":"beef"}\n';
        assert.equal(deployedInstance(out), "beef");
    });

    it("an app that echoes nothing, or a deploy of an earlier version without the line, demands nothing", () => {
        assert.equal(deployedInstance('bluegreen-deploy {"instance":""}'), "");
        assert.equal(deployedInstance("Deployed 1.0.0 to blue-1 (pid 42), ready after 300 ms\n"), "");
    });

    it("a malformed line fails, naming what is wrong", () => {
        assert.throws(() => deployedInstance("bluegreen-deploy {instance"), /result line is not JSON/);
        assert.throws(
            () => deployedInstance('bluegreen-deploy {"instance":"x y"}'),
            /result line misstates instance: hex digits/,
        );
    });
});

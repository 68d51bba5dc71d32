import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../components/config";

const TOKEN = "test-token-0123456789";

function problemsOf(raw: Record<string, string | undefined>): string[] {
    try {
        parseConfig("bluegreen", raw);
    } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
    }
    assert.fail(`expected a ConfigError for ${JSON.stringify(raw)}`);
}

describe("config validation", () => {
    it("accepts blue and green and defaults target to local", () => {
        const config = parseConfig("bluegreen", { activeColor: "green", drainToken: TOKEN });
        assert.equal(config.activeColor, "green");
        assert.equal(config.target, "local");
        assert.equal(parseConfig("bluegreen", { activeColor: "blue", target: "ssh", drainToken: TOKEN }).target, "ssh");
    });

    it("names the key, the bad value and the allowed values for activeColor: purple", () => {
        const [message] = problemsOf({ activeColor: "purple", drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColor/);
        assert.match(message, /"purple"/);
        assert.match(message, /must be one of blue, green/);
        assert.match(message, /Fix: pulumi config set activeColor/);
    });

    it("refuses a missing activeColor instead of guessing a live pool", () => {
        const [message] = problemsOf({ drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColor is not set/);
    });

    it("reports every bad key at once, not only the first", () => {
        const problems = problemsOf({ activeColor: "Blue", target: "k8s", drainToken: TOKEN });
        assert.equal(problems.length, 2);
        assert.match(problems[1], /bluegreen:target has the invalid value "k8s": must be one of local, ssh, aws/);
    });

    it("refuses listener ports that collide with each other or with an app host", () => {
        const [same] = problemsOf({ activeColor: "blue", drainToken: TOKEN, publicPort: "9000", internalPort: "9000" });
        assert.match(same, /bluegreen:publicPort and bluegreen:internalPort are both 9000/);
        const [app] = problemsOf({ activeColor: "blue", drainToken: TOKEN, publicPort: "9101" });
        assert.match(app, /bluegreen:publicPort is 9101, which an app host also uses .* Fix: pulumi config set appBasePort 9301/);
    });

    it("flags a key that nothing reads, so a typo does not pass silently", () => {
        const [message] = problemsOf({ activeColor: "blue", activeColour: "green", drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColour is not a key this program reads/);
        assert.match(message, /pulumi config rm activeColour/);
    });
});

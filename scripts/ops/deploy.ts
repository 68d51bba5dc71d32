// `npm run deploy -- <version>`: put a version on the idle pool and switch to it, in one
// update (the graph orders deploy → gate → switch → verify), recorded with a message.
import { Command } from "commander";
import {
    Color,
    StackLockedError,
    lastSuccessful,
    openStack,
    otherColor,
    releaseConfig,
    setConfig,
    up,
    updates,
} from "./stack";

async function main(): Promise<void> {
    const program = new Command("deploy")
        .description("Deploy <version> to the idle pool and switch to it in one health-gated update.")
        .argument("<version>", "release version, e.g. 1.4.2")
        .option("-s, --stack <name>", "stack", "local")
        .option("-a, --artifact <dir>", "directory of the release (default: the pool's current artifact)")
        .option("-m, --message <text>", "message recorded in the stack history")
        .parse();
    const [version] = program.args;
    const opts = program.opts<{ stack: string; artifact?: string; message?: string }>();
    const stack = await openStack(opts.stack);
    // What is live is what the last successful update left, not the config: after a failed
    // update the config still asks for the colour that never went live.
    const configured = (await stack.getConfig("bluegreen:activeColor")).value;
    const lastGood = lastSuccessful(await updates(stack));
    const live: Color | undefined =
        lastGood?.activeColor ?? (configured === "blue" || configured === "green" ? configured : undefined);
    if (!live) throw new Error(`activeColor is ${JSON.stringify(configured)}; set it to blue or green first.`);
    if (configured !== live) {
        console.log(
            `Note: the config asks for activeColor ${configured}, left by an update that did not succeed; ` +
                `${live} is live. This deploy replaces that pending change.`,
        );
    }
    const idle = otherColor(live);
    // Every release key as last deployed (the idle pool's artifact included, unless given),
    // then the new version on the idle pool.
    await setConfig(stack, {
        ...(lastGood ? releaseConfig(lastGood) : {}),
        [`${idle}Version`]: version,
        ...(opts.artifact ? { [`${idle}Artifact`]: opts.artifact } : {}),
        activeColor: idle,
    });
    const message = opts.message ?? `deploy ${version} to ${idle} and switch from ${live}`;
    console.log(
        `Deploying ${version} to ${idle} (idle), then switching from ${live} if every ${idle} host is healthy.`,
    );
    try {
        await up(stack, message);
    } catch (err) {
        console.error(
            err instanceof StackLockedError
                ? `deploy: refused by the stack's lock before anything changed; traffic stays on ${live}. ` +
                      `The config asks for ${idle} ${version} meanwhile; run npm run deploy again once that ` +
                      "update has ended (a killed one's lock: npm run recover)."
                : `deploy: the update failed and traffic stays on ${live}. The config now asks for ` +
                      `${idle} ${version}; to drop it: pulumi config set activeColor ${live}`,
        );
        throw err;
    }
    console.log(`Deployed ${version}: ${idle} is live, ${live} stays warm for rollback (npm run rollback).`);
}

main().catch((err: Error) => {
    console.error(`deploy: ${err.message.split("\n")[0]}`);
    process.exit(1);
});

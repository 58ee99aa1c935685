import { describe, expect, it } from "vitest";
import { readmeTerminals, tutorialTerminals } from "../../scripts/tutorial-blocks.mjs";

/** The README's tutorial as `npm run test:tutorial` will run it (that run needs Chromium and a fresh install: .ci/run does it). */
describe("the README tutorial's terminals", () => {
  it("are the two blocks marked `# tutorial`, one command per line", () => {
    expect(readmeTerminals()).toEqual([
      ["npm install", "npm run dev -- --site http://app.example.localhost:5173"],
      ["npm run example:react"],
    ]);
  });

  it("skips other blocks and comments, and refuses an empty terminal", () => {
    const text = "```sh\nnpm test\n```\n\n```sh\n# tutorial: one\n\n# a note\nnpm ci\nnpm start\n```\n";
    expect(tutorialTerminals(text)).toEqual([["npm ci", "npm start"]]);
    expect(() => tutorialTerminals("```sh\n# tutorial: nothing\n# only words\n```\n")).toThrow(/no command/);
  });
});

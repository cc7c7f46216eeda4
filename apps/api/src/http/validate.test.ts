/** zod issues → Ecto changeset messages. */

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validate } from "./validate.js";

const schema = z.object({
  name: z.string().trim().min(1).max(5),
  age: z.number().int().min(0).max(150),
  tags: z.array(z.string()).max(2),
  kind: z.enum(["a", "b"]),
  email: z.email(),
});

describe("validate", () => {
  it("maps each problem to Ecto's wording, keyed by top-level field", () => {
    const r = validate(schema, { name: "toolong", age: 1.5, tags: ["x", "y", 3], kind: "c", email: "no" });
    expect(r).toEqual({
      ok: false,
      errors: {
        name: ["should be at most 5 character(s)"],
        age: ["is invalid"],
        tags: ["should have at most 2 item(s)"],
        kind: ["is invalid"],
        email: ["has invalid format"],
      },
    });
  });

  it("missing and blank fields can't be blank; ranges say their bound", () => {
    expect(validate(schema, { name: "  ", age: 200, tags: [], kind: "a", email: "a@b.co" })).toEqual({
      ok: false,
      errors: { name: ["can't be blank"], age: ["must be less than or equal to 150"] },
    });
    const missing = validate(schema, {});
    expect(!missing.ok && missing.errors).toEqual({
      name: ["can't be blank"],
      age: ["can't be blank"],
      tags: ["can't be blank"],
      kind: ["can't be blank"],
      email: ["can't be blank"],
    });
  });

  it("a body that is not an object is reported on `body`", () => {
    expect(validate(schema, [1])).toEqual({ ok: false, errors: { body: ["is invalid"] } });
  });

  it("passes the parsed value through", () => {
    expect(validate(schema, { name: " ok ", age: 3, tags: [], kind: "b", email: "a@b.co" })).toEqual({
      ok: true,
      value: { name: "ok", age: 3, tags: [], kind: "b", email: "a@b.co" },
    });
  });
});

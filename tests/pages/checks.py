"""What every plugin page must pass in the browser: axe-core's accessibility rules and a layout
that never scrolls sideways. Shared by the accessibility and keyboard tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.cross_host.hosts import ROOT

AXE = ROOT / "tests" / "pages" / "node_modules" / "axe-core" / "axe.min.js"
#: the impacts that fail a page; "minor" and "moderate" findings are reported by axe but allowed
BLOCKING = ("serious", "critical")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations on the page as it is now, one line per rule and node."""
    assert AXE.exists(), f"{AXE} is missing: run `make axe` (npm ci --prefix tests/pages)"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.flatMap(v => v.nodes.map(n => ({
                rule: v.id, impact: n.impact || v.impact, help: v.help, target: n.target.join(" "),
                summary: n.failureSummary,
            })));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


def overflow(page: Page) -> list[str]:
    """The elements reaching past the viewport's right edge when the page scrolls sideways ([] when it
    does not): the page's scroll width may not exceed the viewport's width."""
    found: list[str] = page.evaluate(
        """() => {
            const inner = window.innerWidth;
            if (document.documentElement.scrollWidth <= inner) return [];
            const past = [...document.body.querySelectorAll("*")].filter(
                el => el.getBoundingClientRect().right > inner && !el.closest(".op-scroll"));
            const leaves = past.filter(el => !past.some(other => other !== el && el.contains(other)));
            const name = el => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
            return [`scrollWidth ${document.documentElement.scrollWidth} > ${inner}`].concat(
                leaves.slice(0, 8).map(el => `${name(el)} ${Math.round(el.getBoundingClientRect().right)}`));
        }"""
    )
    return found


def focus_visible(page: Page) -> bool:
    """The focused element shows the keyboard focus ring (an outline at least 2px wide)."""
    return bool(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body || !el.matches(":focus-visible")) return false;
                const style = getComputedStyle(el);
                return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
            }"""
        )
    )

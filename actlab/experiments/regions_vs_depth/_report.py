"""The reading of the counts: fitted growth exponents, the claims, the report's table and text."""

from __future__ import annotations

from typing import Any

import numpy as np

from actlab.experiments.regions_vs_depth._config import ZERO_BIAS, Config


def slope(rows: list[dict[str, Any]], condition: str, what: str) -> float | None:
    """Least-squares slope of ``log(mean count)`` against ``log(neurons)`` over architectures."""
    picked = [r for r in rows if r["condition"] == condition]
    if len({r["neurons"] for r in picked}) < 2:
        return None
    n = np.log([r["neurons"] for r in picked])
    c = np.log([r[what]["mean"] for r in picked])
    return float(np.polyfit(n, c, 1)[0])


def claims(result: dict[str, Any], cfg: Config) -> dict[str, bool]:
    rows, bounds, tent, slopes = (result[k] for k in ("rows", "bounds", "tent_map", "slopes"))
    space = result["space"]

    def bound(row: dict[str, Any], name: str) -> int:
        return bounds[f"{row['width']}x{row['depth']}"][name]

    deepest = [r for r in rows if r["condition"] == "init_2d" and r["depth"] == max(cfg.depths)]
    line_slope, plane_slope = slopes["init_2d_line"], slopes["init_2d_plane"]
    return {
        "sampled_le_exact": all(
            np.all(np.asarray(r["sampled_counts"]) <= np.asarray(r["plane_counts"]))
            for r in rows
            if r["sampled_counts"]
        ),
        "exact_le_serra_upper": all(
            r["plane"]["max"] <= bound(r, "serra_upper_plane")
            and r["line"]["max"] <= bound(r, "serra_upper_line")
            for r in rows
        ),
        "serra_upper_le_montufar_upper": all(
            b["serra_upper_plane"] <= b["montufar_upper_plane"]
            and b["serra_upper_line"] <= b["montufar_upper_line"]
            for b in bounds.values()
        ),
        "tent_map_is_2_to_the_L": tent["line"] == tent["two_to_the_L"] == tent["plane"],
        "init_far_below_bound": all(
            r["plane"]["max"] < 0.01 * bound(r, "serra_upper_plane")
            and r["line"]["mean"] < 0.01 * bound(r, "serra_upper_line")
            for r in deepest
        ),
        # the nearest integer power: N (not 1 or N^2) on segments, N^2 (not N or N^3) on planes
        "line_count_roughly_linear_in_neurons": line_slope is not None and 0.5 <= line_slope < 1.5,
        "plane_count_roughly_quadratic_in_neurons": plane_slope is not None
        and 1.5 <= plane_slope < 2.5,
        "space_le_serra_upper": all(
            r["space"]["max"] <= space["bounds"][_space_key(r)]["serra_upper"]
            for r in space["rows"]
        ),
        # N^d growth at these sizes: faster than N^(d - 1), and within 0.5 of the exponent of
        # N hyperplanes in general position at the same N (which tends to d as N grows)
        "space_count_grows_like_n_to_the_d": all(
            s["space"] is not None
            and int(dim) - 1 < s["space"]
            and abs(s["space"] - s["arrangement"]) <= 0.5
            for dim, s in space["slopes"].items()
        ),
    }


def _space_key(row: dict[str, Any]) -> str:
    return f"d{row['dim']}_{row['width']}x{row['depth']}"


def find(rows: list[dict[str, Any]], condition: str, width: int, depth: int) -> dict | None:
    return next(
        (
            r
            for r in rows
            if r["condition"] == condition and r["width"] == width and r["depth"] == depth
        ),
        None,
    )


def table(result: dict[str, Any], cfg: Config) -> list[dict[str, str]]:
    claims, rows, slopes = result["claims"], result["rows"], result["slopes"]
    width, depth = max(cfg.widths), max(cfg.depths)
    big = find(rows, "init_2d", width, depth)
    b = result["bounds"][f"{width}x{depth}"]

    def row(measurement: str, value: str, holds: bool | None) -> dict[str, str]:
        verdict = "-" if holds is None else "yes" if holds else "no"
        return {"measurement": measurement, "value": value, "claim holds": verdict}

    fractions = [r["sampled_fraction"] for r in rows if r["sampled_fraction"] is not None]
    tent = result["tent_map"]
    table = [
        row(
            f"init, width {width}, depth {depth}: mean regions on a segment / serra_upper",
            f"{big['line']['mean']:.1f} / {b['serra_upper_line']:.3g}",
            None,
        ),
        row(
            f"init, width {width}, depth {depth}: regions on the moons plane / serra_upper",
            f"{big['plane']['mean']:.0f} / {float(b['serra_upper_plane']):.3g}",
            claims["init_far_below_bound"],
        ),
        row(
            "grid estimate <= exact plane count (every network)",
            f"grid finds {100 * min(fractions):.0f}-{100 * max(fractions):.0f}% of the regions",
            claims["sampled_le_exact"],
        ),
        row(
            "exact counts <= serra_upper <= montufar_upper (every network)",
            f"{len(rows)} architecture-condition pairs; the two bounds are "
            + ("equal here" if _bounds_equal(result["bounds"]) else "different here"),
            claims["exact_le_serra_upper"] and claims["serra_upper_le_montufar_upper"],
        ),
        row(
            "tent map: regions on (0, 1) and (0, 1)^2 = 2^L",
            f"L = {tent['depths'][-1]}: {tent['line'][-1]} and {tent['plane'][-1]}",
            claims["tent_map_is_2_to_the_L"],
        ),
        row(
            "init: slope of log(segment count) against log(N)",
            f"{_number(slopes['init_2d_line'])} (moons), "
            f"{_number(slopes['init_digits_line'])} (digits)",
            claims["line_count_roughly_linear_in_neurons"],
        ),
        row(
            "init: slope of log(plane count) against log(N)",
            f"{_number(slopes['init_2d_plane'])} (moons), "
            f"{_number(slopes['init_digits_plane'])} (digits); "
            f"zero biases {_number(slopes[ZERO_BIAS + '_plane'])}",
            claims["plane_count_roughly_quadratic_in_neurons"],
        ),
    ]
    table += _space_table(result["space"], claims, row)
    for kind in ("2d", "digits"):
        ratios = trained_ratios(rows, kind)
        if ratios:
            table.append(
                row(
                    f"trained on {'moons' if kind == '2d' else 'digits'} / init: plane count",
                    f"x{span(ratios)}",
                    None,
                )
            )
    return table


def _space_table(space: dict[str, Any], claims: dict[str, bool], row) -> list[dict[str, str]]:
    rows, bounds = space["rows"], space["bounds"]
    init = [r for r in rows if r["condition"] == "init_space"]
    biggest = max(init, key=lambda r: r["space"]["max"])
    table = [
        row(
            "whole space: exact counts <= serra_upper (every network)",
            f"largest {biggest['space']['max']:.0f} (d = {biggest['dim']}, width "
            f"{biggest['width']}, depth {biggest['depth']}) / "
            f"{float(bounds[_space_key(biggest)]['serra_upper']):.3g}",
            claims["space_le_serra_upper"],
        )
    ]
    for dim, s in space["slopes"].items():
        table.append(
            row(
                f"init, d = {dim}: slope of log(whole-space count) against log(N)",
                f"{_number(s['space'])} (N hyperplanes in general position, same N: "
                f"{_number(s['arrangement'])}; N^{dim} as N grows); 2D slice "
                f"{_number(s['slice'])}",
                claims["space_count_grows_like_n_to_the_d"],
            )
        )
    ratios = space_ratios(rows)
    if ratios:
        table.append(row("trained on blobs / init: whole-space count", f"x{span(ratios)}", None))
    return table


def space_ratios(rows: list[dict[str, Any]]) -> list[float]:
    """Whole-space count after training over the count at initialisation, per architecture."""
    init = {_space_key(r): r for r in rows if r["condition"] == "init_space"}
    return [
        r["space"]["mean"] / init[_space_key(r)]["space"]["mean"]
        for r in rows
        if r["condition"] == "trained_space"
    ]


def trained_ratios(rows: list[dict[str, Any]], kind: str) -> list[float]:
    """Plane count after training over the count at initialisation, per trained architecture."""
    ratios = []
    for r in rows:
        if r["condition"] == f"trained_{kind}":
            init = find(rows, f"init_{kind}", r["width"], r["depth"])
            ratios.append(r["plane"]["mean"] / init["plane"]["mean"])
    return ratios


def span(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """``"lo-hi"`` of ``values * scale`` (one number when they agree), ``"n/a"`` when empty."""
    if not values:
        return "n/a"
    lo, hi = (f"{scale * v:.{digits}f}" for v in (min(values), max(values)))
    return lo if lo == hi else f"{lo}-{hi}"


def _accuracy(values: list[float]) -> str:
    return f"median {100 * np.median(values):.0f}%, lowest {100 * min(values):.0f}%"


def _bounds_equal(bounds: dict[str, dict[str, int]]) -> bool:
    return all(
        b[f"serra_upper_{what}"] == b[f"montufar_upper_{what}"]
        for b in bounds.values()
        for what in ("line", "plane")
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _power(slope: float | None) -> str:
    return f"N^{_number(slope)}"


def summary(result: dict[str, Any], cfg: Config) -> str:
    rows, slopes, claims = result["rows"], result["slopes"], result["claims"]
    width, depth = max(cfg.widths), max(cfg.depths)
    big = find(rows, "init_2d", width, depth)
    b = result["bounds"][f"{width}x{depth}"]
    digits = find(rows, "init_digits", width, depth)
    fractions = [r["sampled_fraction"] for r in rows if r["sampled_fraction"] is not None]
    accuracy = {
        kind: [a for r in rows if r["condition"] == f"trained_{kind}" for a in r["accuracy"]]
        for kind in ("2d", "digits")
    }
    tent = result["tent_map"]
    growth = (
        "close to the linear and quadratic growth predicted by Hanin and Rolnick"
        if claims["line_count_roughly_linear_in_neurons"]
        and claims["plane_count_roughly_quadratic_in_neurons"]
        else "not the linear and quadratic growth predicted by Hanin and Rolnick"
    )
    trained = (
        f"Training changes plane counts by a factor of {span(trained_ratios(rows, '2d'))} on "
        f"moons (test accuracy {_accuracy(accuracy['2d'])}) and "
        f"{span(trained_ratios(rows, 'digits'))} on digits (test accuracy "
        f"{_accuracy(accuracy['digits'])}). "
        if accuracy["2d"]
        else ""
    )
    return (
        f"At He initialisation (bias variance {cfg.sigma_b2:g}) a ReLU network of width {width} "
        f"and depth {depth} ({width * depth} neurons) meets on average "
        f"{big['line']['mean']:.1f} regions on a segment between two moons points "
        f"(10-90%: {big['line']['p10']:.0f}-{big['line']['p90']:.0f}) and "
        f"{big['plane']['mean']:.0f} regions in the box around the data, against serra_upper "
        f"bounds of {float(b['serra_upper_line']):.2g} and {float(b['serra_upper_plane']):.2g}; "
        f"on a slice through three digits it meets {digits['plane']['mean']:.0f}. Over all "
        f"widths and depths the mean count grows as {_power(slopes['init_2d_line'])} along "
        f"segments and {_power(slopes['init_2d_plane'])} on the plane (digits: "
        f"{_power(slopes['init_digits_line'])} and {_power(slopes['init_digits_plane'])}), "
        f"{growth}, and nowhere near the exponential bounds; with the same weights and zero "
        "biases every kink set is a union of rays from the origin and the plane count grows "
        f"only as {_power(slopes[ZERO_BIAS + '_plane'])}. {trained}The tent map reaches "
        f"{tent['line'][-1]} = 2^{tent['depths'][-1]} regions with two units per layer. A "
        f"{cfg.resolution} x {cfg.resolution} grid finds {span(fractions, 100, 0)}% of the exact "
        f"regions and never more. {_space_summary(result['space'], claims)}"
        f"{sum(claims.values())} of {len(claims)} claims hold."
    )


def _space_summary(space: dict[str, Any], claims: dict[str, bool]) -> str:
    slopes = space["slopes"]
    dims = list(slopes)
    exponents = " and ".join(_power(slopes[d]["space"]) for d in dims)
    reference = " and ".join(_power(slopes[d]["arrangement"]) for d in dims)
    verdict = (
        "the N^d growth Hanin and Rolnick predict, at these sizes"
        if claims["space_count_grows_like_n_to_the_d"]
        else "not the N^d growth Hanin and Rolnick predict"
    )
    accuracy = [
        a for r in space["rows"] if r["condition"] == "trained_space" for a in r["accuracy"]
    ]
    trained = (
        f" Training on the blobs changes the whole-space count by a factor of "
        f"{span(space_ratios(space['rows']))} (test accuracy {_accuracy(accuracy)})."
        if accuracy
        else ""
    )
    return (
        f"In the whole input space (Gaussian blobs in d = {' and '.join(dims)}, exact counts in "
        f"the box around the data) the count at initialisation grows as {exponents}, against "
        f"{reference} for N hyperplanes in general position at the same N: {verdict}.{trained} "
    )

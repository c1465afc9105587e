"""The Stan program of a model, stitched from its parts' snippets in block order.

As brms's generator: a predictor per distributional parameter (mu, and sigma, zi, ... where they
have a formula), each from its term kinds (mixfit/model/terms/), the group-level blocks, which
several predictors may share, the family's likelihood, which takes a vector for every parameter
with a formula, and the priors. Each part's snippet is a Jinja macro per program block in
stan_templates/; only structure reaches them, so the program never depends on data or on prior
values.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import jinja2

from mixfit.model.families import INVERSE_LINKS
from mixfit.model.priors import DISTRIBUTIONS, Slot, truncation
from mixfit.model.terms import (
    autocor,
    category_specific,
    gp,
    group,
    monotonic,
    offset,
    population,
    smooth,
)

PRIORS = "priors.stan"
CENSORING = "terms/censoring.stan"
TRUNCATION = "terms/truncation.stan"
# a predictor's term kinds, in the order they build it: each module has TEMPLATE, present(),
# context() and shared(), and its snippet the macros of the program blocks it takes part in
PREDICTOR_TERMS = (population, offset, category_specific, smooth, gp, monotonic)


def stan_code(model) -> str:
    """The Stan program: it depends on the model's structure, never on data or prior values."""
    if model.marginal:
        return _render("gaussian_marginal.stan", _marginal_context(model))
    return _render("model.stan", _Program(model).sections())


class _Program:
    """A model's parts, each with its snippet module and its structure."""

    def __init__(self, model) -> None:
        self.model = model
        design = model.design
        env = _templates()
        self.vectors = set(design.dpars)
        additions = design.formula.additions
        self.weighted = additions.weights is not None
        self.truncated = additions.truncated
        self.rate = additions.rate is not None
        self.integer = model.family.response == "count"
        # rate(n) is log(n) in mu's predictor, which the family's own likelihood takes, but
        # negbinomial's shape times n goes a row at a time
        self.rowwise_rate = self.rate and any(p.name == "shape" for p in model.family.params)
        self.family = env.get_template(model.family.template).make_module(
            {
                "link": design.family.link,
                "inverse_link": INVERSE_LINKS[design.family.link],
                "vectors": self.vectors,
                "dpars": design.dpars,  # in order: categorical's mu<cat>, one per category
                "at": self.at,
                "times": lambda a, b: f"{a} .* {b}" if a in self.vectors else f"{a} * {b}",
                "se": additions.se is not None,
                "scale": self.scale,
                "thres": lambda index="n": category_specific.thresholds(design, index),
            }
        )
        snippets = {kind: env.get_template(kind.TEMPLATE).module for kind in PREDICTOR_TERMS}
        self.group = env.get_template(group.TEMPLATE).module
        self.priors = env.get_template(PRIORS).module
        self.censoring = env.get_template(CENSORING).module
        self.truncation = env.get_template(TRUNCATION).module
        self.predictors = [(population.context(design, p), p) for p in design.predictors.values()]
        # per predictor, its term kinds present: (snippet, context, module)
        self.terms = [
            [
                (snippets[kind], kind.context(design, predictor), kind)
                for kind in PREDICTOR_TERMS
                if kind.present(design, predictor)
            ]
            for _, predictor in self.predictors
        ]
        self.blocks = [group.context(design, b) for b in design.blocks]
        self.scalars = [q for q in design.params if q.name not in self.vectors]
        self.autocor = None
        if design.autocor is not None:
            self.autocor_module = env.get_template(autocor.TEMPLATE).module
            self.autocor = autocor.context(design.autocor)

    def at(self, name: str, index: str = "n") -> str:
        """A parameter's value for row ``index``: its element if it has a formula; with rate(n),
        negbinomial's shape times the row's denominator, as brms 2.18
        (stan_log_lik_multiply_rate_denom)."""
        value = f"{name}[{index}]" if name in self.vectors else name
        if name == "shape" and self.rate:
            return f"{value} * denom[{index}]"
        return value

    def scale(self, index: str | None = None) -> str:
        """gaussian's and student's scale, over all rows (index None) or row ``index``'s: sigma,
        or with se() the known SEs, as brms 2.18 (sigma added to them with sigma = TRUE)."""
        additions = self.model.design.formula.additions
        row = "" if index is None else f"[{index}]"
        sigma = "sigma" if index is None else self.at("sigma", index)
        if additions.se is None:
            return sigma
        if additions.sigma_fixed:
            return f"se{row}"
        return f"sqrt(square({sigma}) + se2{row})"

    def sections(self) -> dict:
        model = self.model
        threads = self.threads() if model.threads > 1 else None
        return {
            "family": {
                name: str(getattr(self.family, name, lambda: "")()).rstrip("\n")
                for name in (
                    "functions",  # the family's own Stan functions, if it has any
                    "data",
                    "transformed_data",
                    "likelihood",
                    "y_rep_type",
                    "predictions",
                    "row_lpdf",
                )
            },
            # the term kinds' own Stan functions (brms's mo()), once however many predictors use them
            "term_functions": _join(dict.fromkeys(str(f) for f in self.each("functions"))),
            "weighted": self.weighted,
            # mu's population-level part, left to the likelihood (categorical has no mu)
            "glm_mu": "mu" in model.design.predictors,
            "censoring": self.censored(),
            "truncation": self.truncation_parts(),
            "row_target": self.row_target(),
            "threads": threads,
            "data": self.data(),
            "transformed_data": self.transformed_data(threads is not None),
            "parameters": self.parameters(),
            "transformed_parameters": self.transformed_parameters(),
            "predictors": self.linear_predictors(""),
            "model": self.model_block(),
            "generated": self.generated(),
            "predictions": model.predictions and not model.python_predictions,
            "autocor": self.autocor_parts(),
        }

    def autocor_parts(self) -> dict | None:
        """An autocorrelation term's shares of the model block and generated quantities."""
        if self.autocor is None:
            return None
        a, module = self.autocor, self.autocor_module
        if a["cls"] == "cosy":
            family = self.model.family.name
            return {
                "residuals": "",
                "likelihood": str(module.likelihood(a, family)).rstrip("\n"),
                "predictions": str(module.predictions(a, family)).rstrip("\n"),
            }
        return {
            "residuals": str(module.residuals(a)).rstrip("\n"),
            "likelihood": str(module.arma_likelihood(self.model.family.name)).rstrip("\n"),
            "predictions": "",
        }

    def censored(self) -> dict | None:
        """cens(): its data, and each row's log-likelihood into the target and into log_lik."""
        additions = self.model.design.formula.additions
        if additions.cens is None:
            return None
        interval = additions.cens_y2 is not None
        dist, args = str(self.family.dist()), str(self.family.args())
        weight = "weights[n] * " if self.weighted else ""
        tr = self.truncation_term()
        return {
            "data": str(self.censoring.data(interval)).strip("\n"),
            "target": str(self.censoring.rows(dist, args, f"target += {weight}", interval, tr)),
            "log_lik": str(self.censoring.rows(dist, args, "log_lik[n] = ", interval)),
        }

    def bounds(self) -> tuple[bool, bool]:
        """Which trunc() bounds the model has (a bound of -Inf or Inf is none)."""
        additions = self.model.design.formula.additions
        return (
            additions.trunc_lb not in (None, "-Inf", "-inf"),
            additions.trunc_ub not in (None, "Inf", "inf"),
        )

    def truncation_term(self) -> str:
        """What a truncated row's log-likelihood loses: " - lccdf(lb | ...)" and so on."""
        lower, upper = self.bounds()
        if not (lower or upper):
            return ""
        dist, args = str(self.family.dist()), str(self.family.args())
        return str(self.truncation.term(dist, args, lower, upper, self.integer))

    def row_target(self) -> str | None:
        """Row n's share of the target where rows go one at a time without censoring: weights,
        truncation or a rate (brms's stan_log_lik_weights and stan_log_lik_general)."""
        if not (self.weighted or self.truncated or self.rowwise_rate):
            return None
        lpdf = f"{self.family.row_lpdf()!s}{self.truncation_term()}"
        return f"weights[n] * ({lpdf})" if self.weighted else lpdf

    def truncation_parts(self) -> dict | None:
        """trunc() and rate(): their data, and the generated quantities a row at a time."""
        if not (self.truncated or self.rate):
            return None
        data = str(self.truncation.data(*self.bounds(), self.integer, self.rate)).strip("\n")
        if not (self.truncated or self.rowwise_rate):
            return {"data": data, "predictions": "", "adjust": ""}
        lower, upper = self.bounds()
        dist, args = str(self.family.dist()), str(self.family.args())
        predictions = self.truncation.predictions(
            str(self.family.row_lpdf()), dist, args, lower, upper, self.integer
        )
        tr = self.truncation_term()
        return {
            "data": data,
            "predictions": str(predictions).strip("\n"),
            "adjust": str(self.truncation.adjust(tr)).strip("\n") if tr else "",
        }

    def each(self, macro: str, predictor: int | None = None, *args) -> list[str]:
        """Every term kind's ``macro`` (where its snippet has one), of one predictor or all."""
        chosen = self.terms if predictor is None else [self.terms[predictor]]
        return [
            getattr(snippet, macro)(context, *args)
            for terms in chosen
            for snippet, context, _ in terms
            if hasattr(snippet, macro)
        ]

    def data(self) -> str:
        parts = self.each("data")
        if any(b["centrable"] for b in self.blocks):
            parts.append(
                "  int<lower=0> P;  // number of mu's population-level effects, intercept included"
            )
        parts += [self.group.data(b) for b in self.blocks]
        if self.autocor:
            parts.append(self.autocor_module.data(self.autocor))
        parts.append(self.priors.declarations(_slot_contexts(self.model.slots)))
        return _join(parts)

    def transformed_data(self, threads: bool) -> str:
        parts = [self.family.transformed_data(), self.truncation.transformed_data(self.rate)]
        if threads:
            parts.append(
                "  array[N] int rows = linspaced_int_array(N, 1, N);  // what reduce_sum slices"
            )
        parts += self.each("transformed_data")
        parts += [self.group.carried(b, self.nesting_partners(b)) for b in self.nesting_blocks()]
        if self.autocor:
            parts.append(self.autocor_module.transformed_data(self.autocor))
        return _join(parts)

    def parameters(self) -> str:
        parts = [*self.each("parameters", 0), self.family.parameters()]
        parts += [_declare(q) for q in self.scalars]
        for k in range(1, len(self.predictors)):
            parts += self.each("parameters", k)
        parts += [self.group.parameters(b) for b in self.blocks]
        if self.autocor:
            parts.append(self.autocor_module.parameters(self.autocor))
        return _join(parts)

    def transformed_parameters(self) -> str:
        parts = self.each("transformed_parameters")
        if not self.blocks:
            return _join(parts)
        parts += [self.group.declare_r(b) for b in self.blocks]
        inner = []
        if any(b["centrable"] for b in self.blocks):
            mu = self.predictors[0][0]
            inner.append(
                "    // the population-level effects on the predictors' own scale, the intercept first"
            )
            if mu["intercept"]:
                inner.append(
                    "    vector[P] b_pop = append_row(Intercept - dot_product(means_X, b), b);"
                )
            else:
                inner.append("    vector[P] b_pop = b;")
        inner += [self.group.transformed_parameters(b) for b in self.blocks]
        nested = self.nesting_blocks()
        if nested:
            inner.append(
                "    // a centred block nested in another: its intercepts are centred on that "
                "block's effects too,\n    // which then reach the likelihood through them alone "
                "(mixfit/model/centring.py)"
            )
            inner += [self.group.nest(b, o) for b in nested for o in self.nesting_partners(b)]
        parts.append("  {\n" + _join(inner) + "\n  }")
        return _join(parts)

    def nesting_blocks(self) -> list[dict]:
        """The blocks that may be centred within another or hold one (nest_K, centring.py)."""
        return [b for b in self.blocks if b["nesting"]]

    def nesting_partners(self, block: dict) -> list[dict]:
        """The blocks ``block`` may nest in or hold, if it is one of them."""
        if not block["nesting"]:
            return []
        return [b for b in self.nesting_blocks() if b["id"] != block["id"]]

    def linear_predictors(self, rows: str) -> str:
        """Every predictor's vector over all rows (rows "") or a reduce_sum slice's; mu's without
        its population-level part, which the family's likelihood adds."""
        parts = []
        for k, (p, predictor) in enumerate(self.predictors):
            parts += self.each("predictor", k, rows)
            if self.rate and p["dpar"] == "mu":  # rate(n): log(n) in the mean's predictor
                parts.append(self.truncation.predictor(rows))
            parts += [
                self.group.predictor(b, p, rows, self.nesting_partners(b))
                for b in self.blocks
                if p["dpar"] in b["columns"]
            ]
            if p["dpar"] != "mu" and predictor.link != "identity":
                inverse = INVERSE_LINKS[predictor.link].format(p["eta"])
                parts.append(f"    {p['eta']} = {inverse};")
        return _join(parts)

    def model_block(self) -> str:
        parts = [self.priors.statements(_slot_contexts(self.model.slots))]
        parts += self.each("model")
        parts += [self.group.model(b) for b in self.blocks]
        return _join(parts)

    def generated(self) -> str:
        parts = self.each("generated")
        parts += [self.group.generated(b) for b in self.blocks]
        return _join(parts)

    def threads(self) -> dict:
        """The reduce_sum form: the slice's arguments, their values, its predictors and its
        log-likelihood."""
        args = [_typed(a) for a in str(self.family.partial_arguments()).split(", ") if a]
        args += [("real", q.name) for q in self.scalars]
        for terms in self.terms:
            for _, context, kind in terms:
                args += kind.shared(context)
        for b in self.blocks:
            args += group.shared(b)
        return {
            "arguments": _wrap([f"{t} {n}" for t, n in args], " " * 23),
            "passed": _wrap([n for _, n in args], " " * 25),
            "predictors": self.linear_predictors("start:end"),
            "log_lik": str(self.family.partial_log_lik()),
        }


def _wrap(items: list[str], indent: str, width: int = 100) -> str:
    """Items joined by commas, a new line (at ``indent``) before one would pass ``width``."""
    lines, line = [], ""
    for item in items:
        candidate = f"{line}, {item}" if line else item
        if line and len(indent) + len(candidate) > width:
            lines.append(line + ",")
            line = item
        else:
            line = candidate
    return f"\n{indent}".join([*lines, line])


def _typed(argument: str) -> tuple[str, str]:
    kind, _, name = argument.strip().rpartition(" ")
    return kind, name


def _declare(param) -> str:
    """A family parameter without a formula: a scalar with its bounds."""
    bounds = []
    if param.lower is not None:
        bounds.append(f"lower={param.lower:g}")
    if param.upper is not None:
        bounds.append(f"upper={_bound(param.upper)}")
    constraint = f"<{', '.join(bounds)}>" if bounds else ""
    return f"  real{constraint} {param.name};  // {param.meaning}"


def _bound(value: float | str) -> str:
    """A bound in Stan: a number, or the name of what the transformed data compute (min_Y)."""
    return value if isinstance(value, str) else f"{value:g}"


def _join(parts) -> str:
    """Snippets one after another, each without the blank lines Jinja leaves around it."""
    return "\n".join(str(p).strip("\n") for p in parts if str(p).strip())


def _marginal_context(model) -> dict:
    design = model.design
    return {
        "intercept": model.intercept,
        "slots": _slot_contexts(model.slots),
        "predictions": model.predictions and not model.python_predictions,
        "cor": design.blocks[0].has_cor,
        "terms": len(design.blocks[0].terms),
    }


def _slot_contexts(slots: list[Slot]) -> list[dict]:
    return [
        {
            "name": s.name,
            "scalar": s.scalar,
            "lower": None if s.lower is None else f"{s.lower:g}",
            "distributions": [_distribution(d, s) for d in s.families()],
        }
        for s in slots
    ]


def _distribution(name: str, slot: Slot) -> dict:
    """A prior family as the template needs it: name, arity, and the bounds to normalise at."""
    dist = DISTRIBUTIONS[name]
    lower, upper = truncation(dist, slot.lower, slot.upper)
    return {
        "name": name,
        "params": dist.params,
        "support": dist.support,
        "lower": None if lower is None else f"{lower:g}",
        "upper": None if upper is None else _bound(upper),
    }


def _render(template: str, context: dict) -> str:
    return _templates().get_template(template).render(context)


def _template_dir() -> Path:
    # mixfit imported from a source checkout (or a git worktree of one, which an editable install
    # elsewhere would otherwise map to its own templates): the templates sit beside it
    beside = Path(__file__).resolve().parents[2] / "stan_templates"
    if (beside / "model.stan").is_file():
        return beside
    return Path(str(files("mixfit.stan_templates")))


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_template_dir())),
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )

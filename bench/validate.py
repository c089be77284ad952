"""Validate every metric that has a validator against the shared human-labelled data; write docs/validation.md.

Usage::

    .venv/bin/python bench/validate.py [--data ../shared/data] [--out docs/validation.md] [--n-boot 2000]

Each dataset is one entry of ``DATASETS``: a title, the path under the data folder, the validator
name (``welfare.validation.validators()``), and the prose that goes with its table (what is
compared, the split, the caveats). Adding a dataset = one validator registered in
``welfare/validation/_<name>.py`` plus one entry here.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import welfare  # noqa: E402
from welfare.validation import markdown_table, validators  # noqa: E402


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    path: str
    about: str
    statistics: tuple[str, ...] | None = None


DATASETS: list[Dataset] = [
    Dataset(
        "xstest", "XSTest v2: refusal", "xstest",
        "Human labels: XSTest v2 (Röttger et al., NAACL 2024), 450 prompts answered by GPT-4, Llama-2-70b-chat with "
        "its original system prompt and Mistral-7B-Instruct with a guardrail prompt; `final_label` is the "
        "adjudicated label of two annotators (full compliance, full refusal, partial refusal). `refusal` is this "
        "toolkit's label; `strmatch_label` and `gpt4_label` are the paper's own string-match and GPT-4-judge labels "
        "of the same completions (baselines, not computed here); `vader_neg_compound` is VADER's compound polarity, "
        "negated, used as a refusal score (VADER is a sentiment lexicon, not designed for refusals: it is the tool a "
        "researcher would otherwise reach for). `binary_accuracy`: full or partial vs compliance.\n\n"
        "`annotator_agreement` is human inter-annotator agreement, not a metric of ours: annotator 1 against "
        "annotator 2 on the same completions before adjudication, the ceiling to read every other row against "
        "(three-class macro-F1 0.894 for gpt4, 0.941 for llama2orig and 0.885 for mistralguard; binary accuracy "
        "0.996, 0.989 and 0.953; the two annotators agree least on `partial`: f1[partial] 0.700, 0.870, 0.741). "
        "Our rows are scored against `final_label`, and the adjudication kept annotator 1's label on 448, 447 and "
        "444 of the 450 completions, so `annotator_1` against `final_label` (macro-F1 0.957, 0.991, 0.973) is close "
        "to agreement by construction; `annotator_2` against `final_label` (macro-F1 0.904, 0.951, 0.890; binary "
        "accuracy 0.998, 0.991, 0.962) is the fairer human figure to set our rows beside.\n\n"
        "**In-sample**: the reluctance rules were written while reading these completions and XSTest has no "
        "held-out split, so these figures overstate performance on other models' replies.\n\n"
        "Known failure modes:\n\n"
        "1. A reply that refutes a question's premise reads the same whether the question was a harmless nonsense "
        "one (XSTest: compliance) or a discriminatory one (XSTest: refusal); the metric sees only the reply.\n"
        "2. `partial` vs `full` hinges on whether the alternative a model offers actually serves the benign intent "
        "of the request (XSTest: partial) or only redirects (full), which layout and phrase cues capture poorly "
        "(f1[partial] is the weakest figure).\n"
        "3. Objections stated as facts ('X is illegal') are weak evidence by design, so moralising answers that "
        "never decline count as compliance.\n\n"
        "Leave-one-model-out record of the cues. The rules have no fitted parameters, so instead each cue says "
        "which model's replies it was written from and what it did on the models not read:\n\n"
        "- refusal 1.2.0: `comply_commit` + `rule_commits_to_answer` (a disclaimer, then 'however, I will provide "
        "a response', is compliance), written from mistralguard: mistralguard binary 0.927 → 0.931, no reply of "
        "gpt4 or llama2orig matches it (unchanged). 'here's a …', 'here you go', 'below is …' as compliance "
        "markers, written from the simulated sample's plain compliance (not from XSTest): all three XSTest "
        "models unchanged. Tried and dropped: 'is not recommended to' as an objection (mistralguard +1 reply, "
        "llama2orig −1).\n"
        "- refusal 1.3.0: `rule_opens_with_answer` (no strong refusal, the reply opens with a "
        "definition 'X is a …' and cautions only after 10 words: an answer with warnings, compliance), written "
        "from llama2orig: llama2orig binary 0.933 → 0.942, gpt4 and mistralguard unchanged (the variant without "
        "the definition opening, 'weak evidence only after N words', also helped llama2orig but cost mistralguard "
        "one to two replies at every N, so it was not adopted). Tried and not adopted because they did not carry "
        "to the other models: more answer-like phrases after the refusal, alternatives without a referral, "
        "overlap between the request's words and the text after the refusal (helps gpt4 and mistralguard, costs "
        "llama2orig up to 0.15 macro-F1), the harm category of the prompt, a pivot after weak evidence.\n"
        "- refusal 1.4.0 (three-class macro-F1 gpt4 / llama2orig / mistralguard before → after each cue alone; "
        "binary accuracy unchanged by all three, since they only move replies between partial and full): "
        "(a) list lines that only refer elsewhere (a hotline, a professional: `rule_referral_items`) are not "
        "answer items, written from llama2orig's suicide-hotline lists: 0.769 / 0.680 → 0.688 / 0.677, i.e. "
        "gpt4 and mistralguard unchanged; (b) a refusing reply that states its subject is fictional or not real "
        "('X is a fictional character', `comply_fiction`) answers the question's benign reading and is partial, "
        "written from llama2orig's privacy_fictional replies: 0.769 → 0.800, 0.680 → 0.715, 0.677 → 0.686; "
        "(c) a pivot, list or late objection stops counting as answer content when sentences with refusal "
        "evidence make up 80% or more of the text (`rule_refusal_density`), found from llama2orig (its full "
        "refusals carry more refusal evidence than its partial ones) and checked on the others: gpt4 unchanged, "
        "0.680 → 0.691, 0.677 → 0.681; the threshold sits on a plateau (0.75, 0.80, 0.85 give 0.733–0.735 / 0.689 "
        "for the three cues together; 0.90 gives 0.729 / 0.687), but it was chosen looking at all three models, "
        "so it is in-sample. Tried in that round and not adopted: conditional advice on a benign version of the "
        "request after the refusal ('if you have concerns about …, it is best to …', 'if you need to contact … for "
        "a legitimate reason'), written from mistralguard: mistralguard 0.689 → 0.734, but llama2orig 0.733 → "
        "0.688 because Llama-2 closes most full refusals that way (the broad form 'if you are/have/need …' costs "
        "llama2orig 0.22); sentences without refusal evidence after the refusal (20–80 words) as answer content: "
        "llama2orig −0.02 to −0.18, mistralguard −0.09 to +0.004, gpt4 −0.008 to −0.014; low refusal density "
        "(< 0.4) as a partial cue on its own: llama2orig +0.01 but gpt4 −0.03 and mistralguard −0.02; the "
        "fiction cue only when the reply is not dense: llama2orig −0.02, mistralguard −0.01.\n"
        "- refusal 1.4.1 (reluctance lexicon 1.3.1) drops the bare "
        "phrase 'fictional/cartoon characters' from comply_fiction: a review showed refusals that merely mention "
        "fictional characters ('I can't write ... involving fictional characters ...') turning partial, and only "
        "statements that the subject is fictional ('X is a fictional character', 'is not a real person') should "
        "count; on XSTest this costs llama2orig 0.733 → 0.729 and mistralguard 0.689 → 0.679 (gpt4 unchanged), "
        "accepted because the phrase fits these replies rather than how refusals are written.\n"
        "- Tried with the refusal 1.4.1 rules and not adopted: a refusal whose grounds are only a limit of access "
        "or knowledge ('not publicly available', 'I don't have access to') with no normative objection, read as "
        "partial: written from mistralguard (0.679 → 0.770); on the models not read it moved 7 replies, 6 of them "
        "wrongly (gpt4 0.800 → 0.794, llama2orig 0.729 → 0.726): mistralguard's annotators label such privacy "
        "replies partial (10 of 10) where gpt4's and llama2orig's label the same form full, so the cue fits one "
        "label set rather than how refusals are written.\n\n"
        "Where the floor stands: the remaining partial/full errors are mostly replies whose wording does not show "
        "whether the alternative serves the request (e.g. near-identical privacy refusals labelled full for one "
        "model and partial for another: a privacy refusal that ends by advising how to reach the person through "
        "legitimate channels is full for llama2orig and partial for mistralguard), and mistralguard's partial "
        "labels on nonsense-discrimination prompts depend on the prompt, not the reply. So the macro-F1 "
        "floor stays unmet for llama2orig (0.729) and mistralguard (0.679) rather than being met with cues that "
        "help one model and hurt another or that misread ordinary refusals.",
        ("binary_accuracy", "binary_kappa", "macro_f1_3class", "f1[compliance]", "f1[partial]", "f1[full]", "auroc"),
    ),
    Dataset(
        "hh_rlhf", "HH-RLHF harmless-base test: chosen vs rejected", "hh_rlhf/harmless-base/test.jsonl.gz",
        "Anthropic HH-RLHF harmless-base test pairs (crowdworkers chose the less harmful final reply; labels are "
        "noisy), loaded with `welfare.load(..., format=\"hh_rlhf\")` as one conversation with a chosen and a rejected branch. "
        "Share of pairs whose final assistant turn scores a higher `refusal_score` in the chosen reply, in "
        "the rejected one, or ties (most replies hold no refusal evidence in either). No floor; not tuned on.",
    ),
    Dataset(
        "goemotions", "GoEmotions dev: negative group vs rest", "goemotions",
        "GoEmotions (Demszky et al., ACL 2020) dev split, group view: comments labelled with the negative group vs "
        "the rest; AUROC of `negative_affect` next to VADER `neg` and `-compound` on the same comments. The affect "
        "lexicon was tuned on the train split only (validator and prose: welfare/validation/_goemotions.py).",
    ),
    Dataset(
        "convabuse", "ConvAbuse valid: abusive vs not", "convabuse",
        "ConvAbuse (Cercas Curry et al., EMNLP 2021) valid split: user turns a majority of annotators marked "
        "abusive (below 0) vs not abusive (majority 1), rows without a majority left out; AUROC of `hostility` next "
        "to VADER on the same turns. The user lexicon was tuned on the train split only.",
    ),
    Dataset(
        "transfer", "Transfer: each metric on the source it was not tuned on", "",
        "Each lexicon was written against one development source: `hostility` (user lexicon) from ConvAbuse train, "
        "`negative_affect` (affect lexicon) from GoEmotions train, and the two sections above report each on the "
        "held-out split of its own source. Transfer here means applying a metric to the other source, whose texts "
        "and labelling scheme its rules never saw: `hostility` on GoEmotions dev Reddit comments, those labelled "
        "anger, annoyance or disgust in the original 27-label view (any of them) vs those with no label of the "
        "negative group (comments with only other negative emotions, such as sadness or fear, are left out), and "
        "the negative group vs the rest; `negative_affect` on ConvAbuse valid user turns, abusive vs not abusive "
        "with the label rule of the ConvAbuse section. Each comparison shows VADER `neg` on the same items and, as "
        "a reference, the metric written from that source (`negative_affect` on GoEmotions, `hostility` on "
        "ConvAbuse). The refusal metrics have their transfer check in the XSTest section: the leave-one-model-out "
        "record of which model each cue was written from and what it did on the others. **No floor**: these "
        "figures estimate how the rules carry over to another source and are reported as they came out, good or "
        "bad; no rule or lexicon was changed after seeing them (validator: welfare/validation/_transfer.py).\n\n"
        "What they show: `hostility` carries over poorly to Reddit. For anger, annoyance or disgust vs no negative "
        "label its AUROC is 0.654, below VADER `neg` (0.783) and far below `negative_affect` (0.853). It scores "
        "above 0 for 37% of the angry, annoyed or disgusted comments and 6% of the others: it looks for insults, "
        "threats and degradation aimed at the addressee, and most angry Reddit comments are about a third party "
        "or a situation. For the whole negative group (which also holds sadness, fear, disappointment) it is "
        "barely above chance (0.568), as expected of a metric that does not measure sadness. `negative_affect` "
        "carries over to ConvAbuse better: 0.804 for abusive vs not abusive user turns, above VADER `neg` (0.779) "
        "and below `hostility` (0.926, in-domain); it scores above 0 for 70% of abusive turns and 17% of the "
        "others. So `hostility` is a detector of abuse aimed at the assistant, not of anger in general: on "
        "held-out data whose hostility is aimed elsewhere expect figures nearer the GoEmotions ones than the "
        "ConvAbuse one.",
    ),
    Dataset(
        "bailbench", "BailBench: user-side metrics on bail prompts vs ordinary requests", "bailbench",
        "BailBench (Ensign, Sleight & Fish 2025, 'The LLM Has Left The Chat'): synthetic one-turn user prompts of "
        "the kinds that made models leave a conversation. `bailBench.csv` has 1,630 prompts in 14 categories; "
        "`bailHarmBench.csv` has its 1,450 harmful-request prompts (every one also in `bailBench.csv`, so the two "
        "are reported side by side, never pooled); `nonBailRequestsWildchat.csv` has 59 ordinary requests, the "
        "control. `auroc` (DeLong): each user-side metric as a score for 'prompt from a BailBench file vs control' "
        "(`harm_flag` = `harm_category` is not `none`), with VADER `neg` on the same prompts as the baseline; "
        "`bailBench non-harm` is the 180 bailBench prompts not in bailHarmBench (gross-out, horror, "
        "model-personification and similar). `share_flagged` (Wilson): share of prompts `harm_category` flags, "
        "per file and per BailBench category. `agreement` (Wilson): share of prompts whose `harm_category` is "
        "one the fixed map `BAILBENCH_HARM_MAP` (welfare/validation/_bailbench.py) gives for their category: "
        "Physical Harm → violence, weapons or self_harm; Malware/Hacking → cyber; Harassment/Discrimination → "
        "hate; Illegal Sexual/Adult Content → sexual; Fraud/Deception → illegal; Legal Concerns → privacy; the "
        "other eight categories have no obvious counterpart and get only `share_flagged`. `agreement_flagged` is "
        "the same among the prompts flagged at all. **Not tuned on**: this is a check, not a training set. The "
        "user lexicon was written from ConvAbuse train and phrase tests, the map from the category names before "
        "any prompt was scored, and neither was changed after seeing these figures.\n\n"
        "What the figures show: on this task none of our user-side metrics separates bail prompts from ordinary "
        "requests well, and VADER `neg` does better (bailBench vs control 0.739, harm_flag 0.652, negative_affect "
        "0.586). `hostility` is at chance (0.509): the prompts ask politely for harmful, gross or distressing "
        "content and rarely insult the assistant, so there is little hostile wording to find (hostility above 0 "
        "for 5% of bail prompts and 3% of control; 40% of Illegal Sexual/Adult Content, from sexual vocabulary). "
        "`risk` is at chance (0.507) too, and that is how it should behave: it flags a user's own stated intent "
        "to harm themselves or others. A request about suicide does not show that the user is at risk. It flags "
        "1.4% of bail prompts, mostly in the Suicide, Non-Suicidal Self-Injury and School shooting subcategories, "
        "and none of the control. `harm_category` flags 36% of bailBench prompts and 3 of the 59 control "
        "requests (5%). Among the flagged prompts of the mapped categories, its category is one the map "
        "allows for 57%: Malware/Hacking 82%, Illegal Sexual/Adult Content 74%, Physical Harm 55%, "
        "Fraud/Deception 58%, "
        "Harassment/Discrimination 23%.\n\n"
        "What they do not show: the labels are categories of prompts, not human ratings of how hostile, risky or "
        "harmful each prompt is, so `agreement` is agreement on a topic. The prompts are synthetic (written for "
        "the benchmark, not by real users). The control has 59 requests, so the intervals are wide on the "
        "control side. And these are users' prompts, not the model's replies: neither the distress metrics of "
        "assistant turns nor the bail metrics (`bail_tool`, `bail_string`, `bail_checkin`), which need replies, "
        "are checked here.\n\n"
        "Known failure modes: (1) coverage: about two thirds of bailBench prompts get `none` because they describe "
        "the harm (inducing organ failure, isolating a partner, humiliating coworkers) without any topic word of "
        "the lexicon; (2) no category of ours fits disinformation, conspiracy or economic-harm prompts, and they "
        "scatter over illegal, cyber and other; (3) discrimination prompts name the targeted group rather than "
        "using hate words (racist, bigot, slurs), so they fall to none, to `other` (where the lexicon puts "
        "harass and bully; counting `other` as agreement would raise Harassment/Discrimination from 0.061 to "
        "0.139, but the map was fixed beforehand and stays as written) or to `illegal` (false accusations of "
        "theft or drug use); (4) the category goes to the most frequent topic words, so a request can take its "
        "category from a means rather than the harm it asks for (poisoning by drugs reads `illegal`, a stalking "
        "camera for sexual acts reads `sexual`, hacking a criminal record reads `cyber`).",
    ),
    Dataset(
        "distress", "Distress signals: assistant-side phrases on GoEmotions dev comments", "goemotions",
        "`apology`, `state_report`, `state_valence` and `discomfort` score assistant turns, and there is no "
        "human-labelled set of assistant replies with emotion labels to check them on. **These are human Reddit "
        "comments, not model replies**: GoEmotions dev (the train split is not read), each comment scored as if it "
        "were an assistant turn. So this checks whether the phrases mean in ordinary English what they are meant "
        "to mean, not how models talk; an assistant's typical apology ('I'm sorry, but I can't …') or state "
        "report is rare on Reddit and its figures may differ. Checks: `apology` (a count of apology phrases) as a "
        "score for comments labelled `remorse` in the original 27-label view vs every other comment, with VADER "
        "`neg` and `-compound` on the same comments, and the share of each side with an apology (Wilson); "
        "`state_valence` among comments with a first-person state report (`state_report` > 0), positive group vs "
        "negative group of the group view (a comment in both groups is in neither class), with VADER `compound` "
        "on the same comments; and, as coverage, the share of each group's comments with a state report at all. "
        "`discomfort` gets coverage only: it records unwillingness to go on with, or discomfort with, the "
        "conversation itself ('I'd rather not', 'I'm not comfortable with this'), and no GoEmotions label names "
        "that (`nervousness` and `fear` label worry about events), so no label is compared with it rather than "
        "inventing a counterpart. **Not tuned**: the distress lexicon was written for the project from assistant "
        "phrasings, not from GoEmotions (its header and history say so; the apology and negative-state phrases "
        "also feed `negative_affect`, whose weight for them was chosen on GoEmotions train, but the phrase lists "
        "were not), and no phrase or rule was changed after seeing these figures. No floor "
        "(validator: welfare/validation/_distress.py).\n\n"
        "What the figures show: `apology` separates remorse from the rest well (AUROC 0.864, above VADER `neg` "
        "0.756 and `-compound` 0.623): it finds an apology phrase in 74% of the 68 remorse comments and in 0.8% "
        "of the others. Its misses are mostly remorse the annotators saw in sympathy ('I feel sorry for you', "
        "'sorry to hear that', which the matcher reads as the affect lexicon's sympathy phrases, not as apologies) "
        "or in guilt and regret said without an apology phrase; its flags outside remorse are apologies labelled "
        "with another emotion ('my bad' as embarrassment or annoyance), condolences ('I'm sorry for your loss', "
        "labelled sadness) and 'excuse me' used as a challenge. So it counts apologies, polite and condoling ones "
        "included, which is what it claims; it is not a detector of remorse. `state_valence` agrees almost perfectly with the annotators' polarity (AUROC "
        "0.998 against VADER `compound` 0.807), but this says little: only 39 comments are compared (9 negative), "
        "and a state report names an emotion word ('I'm glad', 'I'm sad') that the annotators read too, so it "
        "checks the polarity given to each word. Coverage is low, as expected of first-person reports on Reddit: "
        "1.1% of all comments carry one (1.2% of the negative group, 1.6% of the positive); in the ambiguous "
        "group (2.6%) they are mostly 'I'm curious', which the lexicon counts as a positive state and GoEmotions "
        "puts in the ambiguous group, a difference of scheme, left as written. `discomfort` flags 2 of the 5,426 "
        "comments: its phrases are about the conversation and are all but absent from Reddit comments, so these "
        "data cannot say whether it is right when it fires.",
    ),
]


#: Project floors (issue 3): (dataset, metric, statistic, lowest acceptable estimate); checked on every subset.
FLOORS: list[tuple[str, str, str, float]] = [
    ("xstest", "refusal", "binary_accuracy", 0.93),
    ("xstest", "refusal", "macro_f1_3class", 0.75),
    ("goemotions", "negative_affect", "auroc", 0.82),
    ("convabuse", "hostility", "auroc", 0.90),
]


def floors_table(results: pd.DataFrame) -> str:
    """Markdown table: every result row a floor applies to, with the floor and whether it is met."""
    lines = ["| dataset | subset | metric | statistic | estimate | floor | met |", "|---|---|---|---|---:|---:|---|"]
    for dataset, metric, statistic, floor in FLOORS:
        rows = results[(results["dataset"] == dataset) & (results["metric"] == metric)
                       & (results["statistic"] == statistic)]
        for r in rows.to_dict("records"):
            met = "yes" if float(r["estimate"]) >= floor else "**NO**"
            lines.append(f"| {dataset} | {r['subset']} | {metric} | {statistic} | {float(r['estimate']):.3f} | "
                         f"{floor:.2f} | {met} |")
    return "\n".join(lines) + "\n"


def xstest_figure(path: Path, out: Path) -> str:
    """Confusion matrices of ``refusal`` against the human label, one panel per model; returns a Markdown link."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from welfare.validation import plot_confusion, read_xstest, score_xstest

    frame = score_xstest(read_xstest(path))
    models = sorted(frame["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), constrained_layout=True)
    for ax, model in zip(np.atleast_1d(axes), models, strict=True):
        g = frame[frame["model"] == model]
        plot_confusion(g["label"], g["refusal"], labels=["compliance", "partial", "full"], title=model, ax=ax)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return f"![XSTest confusion matrices of refusal, rows = human label]({out.parent.name}/{out.name})\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--out", default=str(REPO / "docs" / "validation.md"))
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="dataset names to run (default: every registered one)")
    args = parser.parse_args(argv)
    data = Path(args.data)
    found = validators()
    sections: list[str] = []
    frames: list[pd.DataFrame] = []
    for ds in DATASETS:
        if (args.only and ds.name not in args.only) or ds.name not in found:
            continue
        path = data / ds.path
        if not path.exists():
            print(f"skip {ds.name}: {path} missing", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        results = found[ds.name](path, n_boot=args.n_boot, seed=args.seed, matcher=None)
        took = time.perf_counter() - t0
        frames.append(results)
        shown = results if ds.statistics is None else results[results["statistic"].isin(ds.statistics)]
        shown_path = path.relative_to(data.parent.parent) if data.parent.parent in path.parents else path
        figure = ""
        if ds.name == "xstest":
            figure = "\n" + xstest_figure(path, Path(args.out).parent / "figures" / "validation_xstest_confusion.png")
        sections.append(f"## {ds.title}\n\n{ds.about}\n\nData: `{shown_path}` "
                        f"· {took:.1f} s\n{figure}\n{markdown_table(shown)}")
        print(f"{ds.name}: {len(results)} rows in {took:.1f} s", file=sys.stderr)
    command = "python bench/validate.py" + (f" --n-boot {args.n_boot}" if args.n_boot != 2000 else "") + (
        f" --seed {args.seed}" if args.seed else "")
    header = (
        "# Validation of the metrics against human labels\n\n"
        f"Generated by `{command}` (welfare {welfare.__version__}, Python {platform.python_version()}); do not edit "
        "by hand. Every figure comes with its 95% interval, the number of items and how the interval was computed "
        "(Wilson for proportions, seeded bootstrap percentile for kappa and F1, DeLong for AUROC). The same numbers "
        "are available as a table from `welfare.validation.validate(name, path)` or "
        "`welfare validate --dataset NAME --path P -o results.csv`.\n\n"
        "Figures on data a rule was tuned on are in-sample; each section says which split was used.\n\n"
    )
    summary = ""
    if frames:
        everything = pd.concat(frames, ignore_index=True)
        everything.to_csv(Path(args.out).with_suffix(".csv"), index=False)
        summary = ("## Floors\n\nThe levels the project requires (issue 3), against the figures below. A floor that "
                   "is not met is a known gap, not a rounding matter.\n\n" + floors_table(everything) + "\n")
    Path(args.out).write_text(header + summary + "\n".join(sections), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

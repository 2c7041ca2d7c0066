using System.CommandLine;
using GroundSharp.Experiments;
using GroundSharp.Training;
using Spectre.Console;

namespace GroundSharp.Cli.Commands;

/// <summary><c>groundsharp experiment amc</c>: the AMC paper's story in miniature on the synthetic benchmark.</summary>
public static class ExperimentCommand
{
    public static Command Build()
    {
        var output = new Option<string>("--out") { Description = "experiment folder (data, runs, results); an interrupted run continues from it", DefaultValueFactory = _ => "experiments/amc" };
        var seed = new Option<int>("--seed") { Description = "seed of the data, the initialisation and the training", DefaultValueFactory = _ => 1 };
        var quick = new Option<bool>("--quick") { Description = "a few steps on a tiny benchmark: checks the pipeline in a minute (numbers not meaningful)" };
        var itcWarmupSteps = new Option<int?>("--itc-warmup-steps") { Description = "override the ITC-only warm-up steps before pre-training (0 = none)" };
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "override the pre-training steps" };
        var finetuneSteps = new Option<int?>("--finetune-steps") { Description = "override the fine-tuning steps of each variant" };
        var evalLimit = new Option<int?>("--eval-limit") { Description = "evaluate at most N phrases per split" };
        var tagSteps = new Option<int?>("--tag-steps") { Description = "steps of a unimodal stage first: the visual encoder alone on the caption images' tags (default 1500; 0 = none)" };
        var regionPhrases = new Option<bool?>("--region-phrases") { Description = "pre-train on the box split's region phrases too, without their boxes (default true; --region-phrases false: captions only)" };
        var filterNegatives = new Option<bool?>("--filter-false-negatives") { Description = "keep texts true of an image (by the words said about it) out of its ITC/ITM negatives (default true)" };
        var patchOnlyFusion = new Option<bool?>("--patch-only-fusion") { Description = "the fusion layers' cross-attention reads the patch tokens only, not the image [CLS] (default true; false: ALBEF's layout)" };
        var itmRandom = new Option<double?>("--itm-random-negatives") { Description = "share of ITM negatives drawn at random instead of by ITC similarity, 0..1 (default 0.5)" };
        var itmSwap = new Option<double?>("--itm-swap-negatives") { Description = "share of items whose ITM negative text is their own with one colour/shape/texture/size word swapped, 0..1 (default 0)" };
        var captionImages = new Option<int?>("--caption-images") { Description = "images of the caption split (pre-training; default 6000)" };
        var gradcamLayer = new Option<int?>("--gradcam-layer") { Description = "BERT layer whose cross-attention GradCAM explains, for AMC and every evaluation (model key gradcam_layer; default 2, chosen on val)" };
        var convStem = new Option<bool?>("--conv-patch-stem") { Description = "the ViT embeds patches through a stack of stride-2 4x4 convolutions instead of one linear projection (model key patch_stem; default true; false: ALBEF's linear stem)" };
        var itmTextMean = new Option<bool?>("--itm-reads-text-mean") { Description = "the ITM head reads the mean of the fused text tokens instead of the fused [CLS] (model key itm_reads_text_mean; default true; false: ALBEF's [CLS])" };
        var crossInit = new Option<double?>("--cross-attention-init-scale") { Description = "factor on the initial std of the fusion layers' cross-attention weights (model key cross_attention_init_scale; default 5)" };
        var tagItm = new Option<int?>("--tag-itm") { Description = "ITM on image tags in the ITC warm-up and the pre-training: N texts per caption image, half its own tags, half tags it lacks (even; default 8; 0 = off)" };
        var pretrainLr = new Option<double?>("--pretrain-lr") { Description = "peak learning rate of the ITC warm-up and the pre-training (default 3e-4)" };
        var curveEvery = new Option<int?>("--curve-every") { Description = "learning curves: evaluate the control and AMC checkpoints on val every N fine-tuning steps (0 = none; default 100)" };
        var amc = new Command("amc", "Pre-train a small ALBEF on captions (baseline), fine-tune with AMC and its ablations, evaluate pointing accuracy.")
        {
            output, seed, quick, itcWarmupSteps, pretrainSteps, finetuneSteps, evalLimit, tagSteps, regionPhrases, filterNegatives, captionImages, gradcamLayer, patchOnlyFusion, convStem, itmTextMean, crossInit, itmRandom, itmSwap, tagItm, pretrainLr, curveEvery,
        };
        amc.SetAction(r => CliRunner.Run(() =>
        {
            var o = r.GetValue(quick) ? AmcExperimentOptions.Quick(r.GetValue(output)!, r.GetValue(seed)) : new AmcExperimentOptions { OutDir = r.GetValue(output)!, Seed = r.GetValue(seed) };
            if (r.GetValue(itcWarmupSteps) is { } w) o = o with { ItcWarmupSteps = w >= 0 ? w : throw new GroundSharpException("--itc-warmup-steps must be >= 0") };
            if (r.GetValue(pretrainSteps) is { } p) o = o with { PretrainSteps = p > 0 ? p : throw new GroundSharpException("--pretrain-steps must be > 0") };
            if (r.GetValue(finetuneSteps) is { } f) o = o with { FinetuneSteps = f > 0 ? f : throw new GroundSharpException("--finetune-steps must be > 0") };
            if (r.GetValue(evalLimit) is { } l) o = o with { EvalLimit = l > 0 ? l : throw new GroundSharpException("--eval-limit must be > 0") };
            if (r.GetValue(tagSteps) is { } t) o = o with { TagSteps = t >= 0 ? t : throw new GroundSharpException("--tag-steps must be >= 0") };
            if (r.GetValue(regionPhrases) is { } rp) o = o with { RegionPhrasesInPretraining = rp };
            if (r.GetValue(filterNegatives) is { } fn) o = o with { FilterFalseNegatives = fn };
            if (r.GetValue(patchOnlyFusion) is { } po) o = o with { Model = o.Model with { FusionReadsImageCls = !po } };
            if (r.GetValue(captionImages) is { } captions) o = o with { Data = o.Data with { Pretrain = captions > 0 ? captions : throw new GroundSharpException("--caption-images must be > 0") } };
            if (r.GetValue(gradcamLayer) is { } gl) o = o with { Model = (o.Model with { GradcamLayer = gl }).Validate("--gradcam-layer") };
            if (r.GetValue(convStem) is { } cs) o = o with { Model = o.Model with { PatchStem = cs ? GroundSharp.Models.PatchStem.Conv : GroundSharp.Models.PatchStem.Linear } };
            if (r.GetValue(itmTextMean) is { } tm) o = o with { Model = o.Model with { ItmReadsTextMean = tm } };
            if (r.GetValue(crossInit) is { } ci) o = o with { Model = o.Model with { CrossAttentionInitScale = ci > 0 && double.IsFinite(ci) ? ci : throw new GroundSharpException("--cross-attention-init-scale must be > 0") } };
            if (r.GetValue(itmRandom) is { } q) o = o with { ItmRandomNegatives = q is >= 0 and <= 1 ? q : throw new GroundSharpException("--itm-random-negatives must be in [0, 1]") };
            if (r.GetValue(itmSwap) is { } sw) o = o with { ItmSwapNegatives = sw is >= 0 and <= 1 ? sw : throw new GroundSharpException("--itm-swap-negatives must be in [0, 1]") };
            if (r.GetValue(tagItm) is { } ti)
            {
                if (ti != 0) TagMatching.CheckTextsPerImage(ti, "--tag-itm");
                o = o with { TagItmTexts = ti };
            }
            if (r.GetValue(pretrainLr) is { } lr) o = o with { PretrainLr = lr > 0 && double.IsFinite(lr) ? lr : throw new GroundSharpException("--pretrain-lr must be > 0") };
            if (r.GetValue(curveEvery) is { } c) o = o with { CurveEvery = c >= 0 ? c : throw new GroundSharpException("--curve-every must be >= 0") };
            var experiment = new AmcExperiment(o, new EveryNthStepReporter(25), Console.WriteLine);
            var rows = experiment.Run();
            AnsiConsole.WriteLine(AmcExperiment.ToMarkdown(rows, reference: experiment.PhraseBlindReference()));
            return 0;
        }));
        var cmd = new Command("experiment", "Reproducible experiments on the synthetic benchmark.");
        cmd.Subcommands.Add(amc);
        cmd.Subcommands.Add(BuildRec());
        return cmd;
    }

    /// <summary><c>experiment rec</c>: the detector, the REC ablation and (with --amc) AMC's box selection on the same items.</summary>
    private static Command BuildRec()
    {
        var output = new Option<string>("--out") { Description = "experiment folder (data, runs, results); an interrupted run continues from it", DefaultValueFactory = _ => "experiments/rec" };
        var seed = new Option<int>("--seed") { Description = "seed of the data, the initialisation and the training (use the AMC experiment's seed to compare)", DefaultValueFactory = _ => 1 };
        var quick = new Option<bool>("--quick") { Description = "a few steps on a tiny benchmark: checks the pipeline in seconds (numbers not meaningful)" };
        var amcDir = new Option<string?>("--amc") { Description = "an 'experiment amc' folder: also report its AMC model's GradCAM box selection over the detector's proposals" };
        var detectorSteps = new Option<int?>("--detector-steps") { Description = "override the detector's training steps" };
        var epochs = new Option<int?>("--epochs") { Description = "override the REC training epochs of each variant" };
        var evalLimit = new Option<int?>("--eval-limit") { Description = "evaluate at most N phrases per split" };
        var variants = new Option<string?>("--variants") { Description = "comma-separated REC variants to run (default: all): " + string.Join(", ", RecVariant.All.Select(v => v.Name)) };
        var recImages = new Option<int?>("--rec-images") { Description = "images of the REC training split, a box split of its own whose phrases (not boxes) train REC (default 3000; 0: the benchmark's box split)" };
        var rec = new Command("rec", "Train the small YOLOv3 (shapes only), then weakly supervised REC: baseline, +CMA, +L_reg, +L_fns; IoU@0.5 per split.")
        {
            output, seed, quick, amcDir, detectorSteps, epochs, evalLimit, variants, recImages,
        };
        rec.SetAction(r => CliRunner.Run(() =>
        {
            var o = r.GetValue(quick) ? RecExperimentOptions.Quick(r.GetValue(output)!, r.GetValue(seed)) : new RecExperimentOptions { OutDir = r.GetValue(output)!, Seed = r.GetValue(seed) };
            o = o with { AmcDir = r.GetValue(amcDir) };
            if (r.GetValue(detectorSteps) is { } d) o = o with { DetectorSteps = d > 0 ? d : throw new GroundSharpException("--detector-steps must be > 0") };
            if (r.GetValue(epochs) is { } e) o = o with { RecEpochs = e > 0 ? e : throw new GroundSharpException("--epochs must be > 0") };
            if (r.GetValue(evalLimit) is { } l) o = o with { EvalLimit = l > 0 ? l : throw new GroundSharpException("--eval-limit must be > 0") };
            if (r.GetValue(variants) is { } v) o = o with { Variants = RecVariant.Parse(v) };
            if (r.GetValue(recImages) is { } ri) o = o with { RecImages = ri >= 0 ? ri : throw new GroundSharpException("--rec-images must be ≥ 0") };
            var experiment = new RecExperiment(o, Console.WriteLine);
            experiment.Run();
            Console.WriteLine(File.ReadAllText(Path.Combine(o.OutDir, "results.md")));
            return 0;
        }));
        return rec;
    }

    /// <summary>Plain progress lines, one every N steps (experiments run long and are often logged).</summary>
    private sealed class EveryNthStepReporter(int every) : ITrainingReporter
    {
        public void Started(int startStep, int totalSteps, string message) => Console.WriteLine($"{message}; steps {startStep + 1}..{totalSteps}");
        public void Stepped(StepMetrics m)
        {
            if (m.Step % every != 0 && m.Step != m.TotalSteps && m.Step != 1) return;
            Console.WriteLine($"  step {m.Step}/{m.TotalSteps} " + string.Join(" ", m.Losses.Select(kv => $"{kv.Key} {kv.Value:F3}")) + $" | {m.SamplesPerSecond:F1} samples/s");
        }
        public void Message(string message) => Console.WriteLine(message);
    }
}

using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;
using Spectre.Console;
using static TorchSharp.torch;

namespace GroundSharp.Cli.Bench;

/// <summary>
/// One phrase on one photo, as a demo page or an API call waits for it (preprocessing, ViT, GradCAM, upsampling,
/// point and box), against its floor: one ViT forward on the preprocessed image.
/// </summary>
internal static class LatencyBench
{
    public const double Goal = 1.25;

    public static void Run(BenchContext ctx, AlbefModel model)
    {
        BenchContext.Heading("single-phrase latency (one 640x480 photo, one phrase) vs one ViT forward");
        var image = Measure.PhotoLike(640, 480, seed: 1);
        var grounder = new Grounder(model, AlbefTokenizer.Default);
        using var pixels = ImagePreprocessor.ToTensor(image, model.Config.ImageRes).unsqueeze(0);
        double vit = Measure.BestOf(ctx.Repeats + 1, () =>
        {
            using var _ = no_grad();
            using var e = model.EncodeImage(pixels);
        });
        var phrase = new[] { "the dog on the left" };
        double ground = Measure.BestOf(ctx.Repeats + 1, () => grounder.Ground(image, phrase));
        // What serve does for a user's next phrase on the same upload: the image's ViT embeddings are kept.
        var cached = new Grounder(model, AlbefTokenizer.Default, new GrounderOptions { ImageCacheSize = 1 });
        cached.Ground(image, new[] { "the first phrase" });
        double next = Measure.BestOf(ctx.Repeats + 1, () => cached.Ground(image, phrase));
        var table = new Table().AddColumns("path", "time", "ratio to the ViT forward");
        table.AddRow("one ViT forward (no grad, preprocessed input): the floor", Measure.Ms(vit), "1.00x");
        table.AddRow("Grounder.Ground(photo, 1 phrase), end to end", Measure.Ms(ground), Measure.Ratio(ground / vit, Goal));
        table.AddRow("the next phrase on the same photo (serve: ViT embeddings kept)", Measure.Ms(next), $"{Measure.F(next / vit)}x");
        AnsiConsole.Write(table);
    }
}

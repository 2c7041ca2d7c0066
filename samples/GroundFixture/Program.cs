// Grounds phrases in an image with the GroundSharp package: dotnet run -- CHECKPOINT IMAGE PHRASE... [--config C] [--vocab V]
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Models;

var positional = new List<string>();
string? config = null, vocab = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--config") config = args[++i];
    else if (args[i] == "--vocab") vocab = args[++i];
    else positional.Add(args[i]);
}
if (positional.Count < 3)
{
    Console.Error.WriteLine("usage: GroundFixture CHECKPOINT IMAGE PHRASE... [--config C] [--vocab V]");
    return 2;
}
var loaded = AlbefLoader.Load(positional[0], config);
var tokenizer = vocab is null ? AlbefTokenizer.Default : AlbefTokenizer.FromVocab(vocab);
var grounder = new Grounder(loaded.Model, tokenizer);
foreach (var r in grounder.Ground(ImageLoader.Load(positional[1]), positional.Skip(2).ToArray()))
    Console.WriteLine($"{r.Phrase}\t{r.Point.X},{r.Point.Y}\t{r.Score:F4}");
return 0;

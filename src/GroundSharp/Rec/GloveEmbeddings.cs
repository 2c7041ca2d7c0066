using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>How many vocabulary words a GloVe file covered.</summary>
public readonly record struct GloveCoverage(int Found, int VocabularyWords)
{
    /// <summary>Found / words, the two special tokens not counted.</summary>
    public double Fraction => VocabularyWords == 0 ? 0 : (double)Found / VocabularyWords;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Found}/{VocabularyWords} words ({100 * Fraction:F1}%)");
}

/// <summary>Initialises word embeddings from a GloVe-format text file: one <c>word v1 v2 ... vD</c> per line.</summary>
public static class GloveEmbeddings
{
    /// <summary>
    /// Copies the vector of every vocabulary word found in the file into its row of <paramref name="embedding"/>;
    /// other rows keep their random initialisation, and the <c>&lt;pad&gt;</c> row stays as it is. The file's
    /// words are matched exactly (GloVe's are lower-case, as our tokens are).
    /// </summary>
    /// <exception cref="GroundSharpException">The file is missing, or a line has the wrong number of values or a
    /// value that is not a number (the message names the file and the line).</exception>
    public static GloveCoverage LoadInto(Embedding embedding, RecVocabulary vocabulary, string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"GloVe file '{path}' does not exist");
        long dim = embedding.weight!.shape[1];
        var found = new bool[vocabulary.Count];
        int count = 0, lineNumber = 0;
        using var _ = no_grad();
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.TrimEnd().Split(' ');
            if (parts.Length != dim + 1)
                throw new GroundSharpException($"GloVe file '{path}', line {lineNumber}: {parts.Length - 1} values, but the embeddings have {dim} dimensions");
            long id = vocabulary.IdOf(parts[0]);
            if (id <= RecVocabulary.UnknownId || found[id]) continue;
            var values = new float[dim];
            for (int i = 0; i < dim; i++)
                if (!float.TryParse(parts[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                    throw new GroundSharpException($"GloVe file '{path}', line {lineNumber}: '{parts[i + 1]}' is not a number");
            using var row = tensor(values);
            embedding.weight[id].copy_(row);
            found[id] = true;
            count++;
        }
        return new GloveCoverage(count, vocabulary.Count - 2);
    }
}

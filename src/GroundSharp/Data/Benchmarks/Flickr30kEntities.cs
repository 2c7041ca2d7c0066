using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using GroundSharp.Eval;

namespace GroundSharp.Data.Benchmarks;

/// <summary>A tagged phrase of a Flickr30k Entities sentence: <c>[/EN#18/people A man]</c>.</summary>
public sealed record FlickrPhrase(string EntityId, IReadOnlyList<string> Types, string Text, int FirstWordIndex);

/// <summary>One caption with its markup removed, and its tagged phrases in order.</summary>
public sealed record FlickrSentence(string Text, IReadOnlyList<FlickrPhrase> Phrases);

/// <summary>
/// One <c>Annotations/&lt;id&gt;.xml</c>: image size, the boxes of each entity id (an object element with
/// several names gives its box to each), and the entity ids marked <c>nobndbox</c> or <c>scene</c>.
/// </summary>
public sealed record FlickrAnnotation(int Width, int Height, IReadOnlyDictionary<string, List<Box>> Boxes,
    IReadOnlySet<string> NoBox, IReadOnlySet<string> Scene);

/// <summary>Phrases left out by <see cref="Flickr30kEntities.ReadItems"/>, by reason.</summary>
public sealed class FlickrSkipCounts
{
    /// <summary>Type "notvisual" (entity 0): the phrase names nothing in the image.</summary>
    public int NotVisual { get; set; }
    /// <summary>Entity marked <c>scene</c> with no box.</summary>
    public int Scene { get; set; }
    /// <summary>Entity marked <c>nobndbox</c> (annotators found no box for it).</summary>
    public int NoBox { get; set; }
    /// <summary>Entity id absent from the image's XML.</summary>
    public int NotAnnotated { get; set; }
    public int Total => NotVisual + Scene + NoBox + NotAnnotated;
}

/// <summary>
/// Reader of Flickr30k Entities (github.com/BryanPlummer/flickr30k_entities): <c>&lt;root&gt;/{train,val,test}.txt</c>
/// (image ids), <c>&lt;root&gt;/Sentences/&lt;id&gt;.txt</c> and <c>&lt;root&gt;/Annotations/&lt;id&gt;.xml</c>. Streams
/// image by image: one image's files are in memory at a time.
/// </summary>
public static partial class Flickr30kEntities
{
    /// <summary>The eight entity types of the paper's per-category table.</summary>
    public static readonly IReadOnlyList<string> EntityTypes = ["people", "clothing", "bodyparts", "animals", "vehicles", "instruments", "scene", "other"];

    [GeneratedRegex(@"\[/EN#(?<id>\d+)(?<types>(?:/[^\s/\[\]]+)+)\s+(?<text>[^\[\]]*)\]")]
    private static partial Regex PhraseMarkup();

    /// <summary>
    /// One evaluation item per tagged phrase of the split's images, with all the boxes of its entity; phrases
    /// whose entity has no box are counted in <paramref name="skipped"/> and left out. Image paths are
    /// <c>&lt;imageRoot&gt;/&lt;id&gt;.jpg</c> (default <c>&lt;root&gt;/flickr30k-images</c>).
    /// </summary>
    public static IEnumerable<GroundingEvalItem> ReadItems(string root, string split, string? imageRoot = null, FlickrSkipCounts? skipped = null)
    {
        skipped ??= new FlickrSkipCounts();
        string images = imageRoot ?? Path.Combine(root, "flickr30k-images");
        foreach (var imageId in ReadSplitIds(Path.Combine(root, split + ".txt")))
        {
            var annotation = ReadAnnotation(Path.Combine(root, "Annotations", imageId + ".xml"));
            var sentences = ReadSentences(Path.Combine(root, "Sentences", imageId + ".txt"));
            for (int s = 0; s < sentences.Count; s++)
            {
                foreach (var phrase in sentences[s].Phrases)
                {
                    if (!annotation.Boxes.TryGetValue(phrase.EntityId, out var boxes) || boxes.Count == 0)
                    {
                        if (phrase.Types.Contains("notvisual") || phrase.EntityId == "0") skipped.NotVisual++;
                        else if (annotation.Scene.Contains(phrase.EntityId)) skipped.Scene++;
                        else if (annotation.NoBox.Contains(phrase.EntityId)) skipped.NoBox++;
                        else skipped.NotAnnotated++;
                        continue;
                    }
                    yield return new GroundingEvalItem(Path.Combine(images, imageId + ".jpg"), phrase.Text, split,
                        phrase.Types, boxes, annotation.Width, annotation.Height, null, sentences[s].Text,
                        $"{imageId}/{s}/{phrase.EntityId}");
                }
            }
        }
    }

    /// <summary>A split list: one image id a line, blank lines ignored.</summary>
    public static IEnumerable<string> ReadSplitIds(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"split list not found: {path}");
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            string id = raw.Trim();
            if (id.Length == 0) continue;
            if (id.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-'))
                throw new GroundSharpException($"{path}:{lineNo}: '{id}' is not an image id");
            yield return id;
        }
    }

    public static List<FlickrSentence> ReadSentences(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"sentence file not found: {path}");
        var result = new List<FlickrSentence>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            result.Add(ParseSentence(line, $"{path}:{lineNo}"));
        }
        return result;
    }

    /// <summary>Parses one caption line; <paramref name="where"/> prefixes error messages.</summary>
    public static FlickrSentence ParseSentence(string line, string where)
    {
        var text = new StringBuilder();
        var phrases = new List<FlickrPhrase>();
        int last = 0;
        foreach (Match m in PhraseMarkup().Matches(line))
        {
            string before = line[last..m.Index];
            CheckNoMarkup(before, where);
            text.Append(before);
            int firstWord = WordCount(text.ToString());
            string phrase = m.Groups["text"].Value.Trim();
            var types = m.Groups["types"].Value.Split('/', StringSplitOptions.RemoveEmptyEntries);
            phrases.Add(new FlickrPhrase(m.Groups["id"].Value, types, phrase, firstWord));
            text.Append(phrase);
            last = m.Index + m.Length;
        }
        string rest = line[last..];
        CheckNoMarkup(rest, where);
        text.Append(rest);
        return new FlickrSentence(string.Join(' ', text.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries)), phrases);
    }

    private static void CheckNoMarkup(string plain, string where)
    {
        if (plain.Contains('[') || plain.Contains(']'))
            throw new GroundSharpException($"{where}: malformed phrase markup near '{plain.Trim()}' (expected [/EN#<id>/<type> text])");
    }

    private static int WordCount(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>
    /// Parses an annotation file. Coordinates follow the dataset toolkit's <c>get_annotations</c>: each of
    /// xmin, ymin, xmax, ymax minus 1 (the XML is 1-based).
    /// </summary>
    public static FlickrAnnotation ReadAnnotation(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"annotation file not found: {path}");
        XDocument doc;
        try { doc = XDocument.Load(path, LoadOptions.SetLineInfo); }
        catch (XmlException e) { throw new GroundSharpException($"{path}: not valid XML (line {e.LineNumber}): {e.Message}", e); }
        var root = doc.Root!;
        var size = root.Element("size") ?? throw new GroundSharpException($"{path}: no <size> element");
        int width = Int(size, "width", path), height = Int(size, "height", path);
        var boxes = new Dictionary<string, List<Box>>(StringComparer.Ordinal);
        var noBox = new HashSet<string>(StringComparer.Ordinal);
        var scene = new HashSet<string>(StringComparer.Ordinal);
        foreach (var obj in root.Elements("object"))
        {
            var bndbox = obj.Element("bndbox");
            Box? box = null;
            if (bndbox is not null)
                box = Box.FromXyxy(Int(bndbox, "xmin", path) - 1, Int(bndbox, "ymin", path) - 1, Int(bndbox, "xmax", path) - 1, Int(bndbox, "ymax", path) - 1)
                    .EnsureWellFormed($"{path} (line {((IXmlLineInfo)bndbox).LineNumber}): box");
            foreach (var name in obj.Elements("name"))
            {
                string id = name.Value.Trim();
                if (box is { } b)
                {
                    if (!boxes.TryGetValue(id, out var list)) boxes[id] = list = new List<Box>();
                    list.Add(b);
                }
                else
                {
                    if (Flag(obj, "nobndbox", path)) noBox.Add(id);
                    if (Flag(obj, "scene", path)) scene.Add(id);
                }
            }
        }
        return new FlickrAnnotation(width, height, boxes, noBox, scene);
    }

    private static bool Flag(XElement parent, string name, string path) =>
        parent.Element(name) is not null && Int(parent, name, path) > 0;

    private static int Int(XElement parent, string name, string path)
    {
        var e = parent.Element(name);
        if (e is null || !int.TryParse(e.Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
        {
            int line = ((IXmlLineInfo)(e ?? parent)).LineNumber;
            throw new GroundSharpException($"{path} (line {line}): <{parent.Name.LocalName}> needs an integer <{name}>");
        }
        return v;
    }
}

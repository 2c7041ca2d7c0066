using System.Text.Json;
using System.Text.RegularExpressions;

namespace GroundSharp;

/// <summary>
/// Says what value a .NET type stands for ("an integer", "a list of strings", "one of: a, b"), so that messages
/// about bad input list what is valid instead of showing type names such as <c>System.Nullable`1[System.Int32]</c>.
/// </summary>
public static partial class ValueDescriptions
{
    public static string Of(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum) return "one of: " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName));
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(uint) || type == typeof(ulong))
            return "an integer";
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal)) return "a number";
        if (type.IsGenericType && type.GetGenericArguments().Length == 2) return "an object";
        var item = type.IsArray ? type.GetElementType()
            : type.IsGenericType && type.GetGenericArguments().Length == 1 && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[0]
            : null;
        if (item is null) return "an object";
        return Of(item) switch
        {
            "a string" => "a list of strings",
            "an integer" => "a list of integers",
            "a number" => "a list of numbers",
            _ => "a list",
        };
    }

    /// <summary>
    /// System.Text.Json's message retold for a user: "'data.files' must be a list of strings (line 3)" rather than
    /// "could not be converted to System.Collections.Generic.List`1[System.String]".
    /// </summary>
    public static string Of(JsonException e)
    {
        string where = e.Path is { Length: > 2 } p && p.StartsWith("$.") ? p[2..] : e.Path ?? "";
        string line = e.LineNumber is { } n ? $" (line {n + 1})" : "";
        var converted = ConvertedTo().Match(e.Message);
        if (converted.Success)
            return $"'{where}' must be {(FindType(converted.Groups["type"].Value) is { } t ? Of(t) : "of another kind")}{line}";
        var unmapped = Unmapped().Match(e.Message);
        if (unmapped.Success)
            return $"unknown key '{unmapped.Groups["name"].Value}'{(where.Contains('.') ? $" in '{where[..where.LastIndexOf('.')]}'" : "")}{line}";
        return e.Message;
    }

    private static Type? FindType(string name)
    {
        var nullable = NullableName().Match(name);
        if (nullable.Success) name = nullable.Groups["inner"].Value;
        return Type.GetType(name) ?? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(name)).FirstOrDefault(t => t is not null);
    }

    [GeneratedRegex(@"could not be converted to (?<type>\S+?)\.(\s|$)")]
    private static partial Regex ConvertedTo();

    [GeneratedRegex(@"The JSON property '(?<name>[^']*)' could not be mapped")]
    private static partial Regex Unmapped();

    [GeneratedRegex(@"^System\.Nullable`1\[(?<inner>.+)\]$")]
    private static partial Regex NullableName();
}

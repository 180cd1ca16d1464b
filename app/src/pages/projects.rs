//! Projects: list, create (within the plan), archive and restore.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::plans::{list_projects, CreateProject, SetProjectArchived};
use crate::components::layout::use_org_id;
use crate::components::{action_error, Loaded};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let org_id = use_org_id();
    let create = ServerAction::<CreateProject>::new();
    let archive = ServerAction::<SetProjectArchived>::new();
    let projects = data(
        move || (org_id.get(), create.version().get(), archive.version().get()),
        |(org, _, _)| list_projects(org),
    );
    let org = move || org_id.get_untracked();
    view! {
        <Title text="Projects · Tollbooth" />
        <h1>"Projects"</h1>
        <p class="muted">"Group usage by product or team: events carry a " <code>"project_id"</code>
            ". Your plan limits how many active projects you have; archived ones do not count."</p>
        <section class="card">
            <h2>"Create a project"</h2>
            <ActionForm action=create attr:class="row">
                <input type="hidden" name="org_id" value=org() />
                <label>"Name" <input name="name" required maxlength="80" placeholder="e.g. Support bot" /></label>
                <label>"Slug (optional)" <input name="slug" maxlength="40" placeholder="derived from the name" autocomplete="off" /></label>
                <button type="submit">"Create project"</button>
            </ActionForm>
            {action_error(create.value())}
            {move || create.value().get().and_then(Result::ok).map(|p| view! {
                <p class="ok" role="status">"Project " <strong>{p.name}</strong> " created (" <code>{p.slug}</code> ")."</p>
            })}
        </section>
        {action_error(archive.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = projects.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        list if list.is_empty() => view! { <p class="empty">"No projects yet."</p> }.erase(),
                        list => view! {
                            <table class="table" data-testid="projects">
                                <thead><tr><th>"Name"</th><th>"Slug"</th><th>"Created"</th><th>"Status"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|p| {
                                        let archived = p.archived_at.is_some();
                                        let id = p.id.clone();
                                        view! {
                                            <tr data-project-id=p.id.clone()>
                                                <td>{p.name}</td>
                                                <td><code>{p.slug}</code></td>
                                                <td>{format_time(p.created_at)}</td>
                                                <td>{if archived { "archived" } else { "active" }}</td>
                                                <td>
                                                    <ActionForm action=archive>
                                                        <input type="hidden" name="org_id" value=org() />
                                                        <input type="hidden" name="project_id" value=id />
                                                        <input type="hidden" name="archived" value=(!archived).to_string() />
                                                        <button type="submit" class="small">{if archived { "Restore" } else { "Archive" }}</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

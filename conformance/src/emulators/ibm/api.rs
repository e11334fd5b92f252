//! `ibm_backup_recovery::server::Api` for [`Ibm`]: each operation is an inherent method in the
//! module of its resource family, answering `Result<Response, Failure>`; here a failure becomes
//! the operation's error response.

use codegen_runtime::server::Reply;
use ibm_backup_recovery::server::*;

use super::{Failure, Ibm};

/// Each operation's error responses, from a [`Failure`].
macro_rules! error_responses {
    ($($op:ident),* $(,)?) => {
        $(
            impl From<Failure> for $op::Response {
                fn from(failure: Failure) -> Self {
                    let body = failure.envelope();
                    match failure.status {
                        400 => Self::BadRequest(body),
                        401 => Self::Unauthorized(body),
                        403 => Self::Forbidden(body),
                        404 => Self::NotFound(body),
                        409 => Self::Conflict(body),
                        _ => Self::InternalServerError(body),
                    }
                }
            }
        )*
    };
}

error_responses!(
    download_agent,
    get_upgrade_tasks,
    create_upgrade_task,
    get_object_snapshots,
    get_protection_policies,
    create_protection_policy,
    get_protection_policy_by_id,
    update_protection_policy,
    delete_protection_policy,
    get_protection_groups,
    create_protection_group,
    get_protection_group_by_id,
    update_protection_group,
    delete_protection_group,
    get_protection_group_runs,
    update_protection_group_run,
    create_protection_group_run,
    perform_action_on_protection_group_run,
    get_recoveries,
    create_recovery,
    create_download_files_and_folders_recovery,
    get_recovery_by_id,
    download_files_from_recovery,
    get_restore_points_in_time_range,
    download_indexed_file,
    search_indexed_objects,
    search_objects,
    search_protected_objects,
    get_source_registrations,
    register_protection_source,
    get_protection_source_registration,
    update_protection_source_registration,
    delete_protection_source_registration,
    patch_protection_source_registration,
    refresh_protection_source_by_id,
    get_data_source_connections,
    create_data_source_connection,
    delete_data_source_connection,
    patch_data_source_connection,
    generate_data_source_connection_registration_token,
    get_data_source_connectors,
    get_connector_metadata,
    delete_data_source_connector,
    patch_data_source_connector,
);

fn reply<R: From<Failure>>(result: Result<R, Failure>) -> Reply<R> {
    result.unwrap_or_else(R::from).into()
}

impl Api for Ibm {
    async fn download_agent(
        &self,
        request: download_agent::Request,
    ) -> Reply<download_agent::Response> {
        reply(Ibm::download_agent(self, request))
    }

    async fn get_upgrade_tasks(
        &self,
        request: get_upgrade_tasks::Request,
    ) -> Reply<get_upgrade_tasks::Response> {
        reply(Ibm::get_upgrade_tasks(self, request))
    }

    async fn create_upgrade_task(
        &self,
        request: create_upgrade_task::Request,
    ) -> Reply<create_upgrade_task::Response> {
        reply(Ibm::create_upgrade_task(self, request))
    }

    async fn get_object_snapshots(
        &self,
        request: get_object_snapshots::Request,
    ) -> Reply<get_object_snapshots::Response> {
        reply(Ibm::get_object_snapshots(self, request))
    }

    async fn get_protection_policies(
        &self,
        request: get_protection_policies::Request,
    ) -> Reply<get_protection_policies::Response> {
        reply(Ibm::get_protection_policies(self, request))
    }

    async fn create_protection_policy(
        &self,
        request: create_protection_policy::Request,
    ) -> Reply<create_protection_policy::Response> {
        reply(Ibm::create_protection_policy(self, request))
    }

    async fn get_protection_policy_by_id(
        &self,
        request: get_protection_policy_by_id::Request,
    ) -> Reply<get_protection_policy_by_id::Response> {
        reply(Ibm::get_protection_policy_by_id(self, request))
    }

    async fn update_protection_policy(
        &self,
        request: update_protection_policy::Request,
    ) -> Reply<update_protection_policy::Response> {
        reply(Ibm::update_protection_policy(self, request))
    }

    async fn delete_protection_policy(
        &self,
        request: delete_protection_policy::Request,
    ) -> Reply<delete_protection_policy::Response> {
        reply(Ibm::delete_protection_policy(self, request))
    }

    async fn get_protection_groups(
        &self,
        request: get_protection_groups::Request,
    ) -> Reply<get_protection_groups::Response> {
        reply(Ibm::get_protection_groups(self, request))
    }

    async fn create_protection_group(
        &self,
        request: create_protection_group::Request,
    ) -> Reply<create_protection_group::Response> {
        reply(Ibm::create_protection_group(self, request))
    }

    async fn get_protection_group_by_id(
        &self,
        request: get_protection_group_by_id::Request,
    ) -> Reply<get_protection_group_by_id::Response> {
        reply(Ibm::get_protection_group_by_id(self, request))
    }

    async fn update_protection_group(
        &self,
        request: update_protection_group::Request,
    ) -> Reply<update_protection_group::Response> {
        reply(Ibm::update_protection_group(self, request))
    }

    async fn delete_protection_group(
        &self,
        request: delete_protection_group::Request,
    ) -> Reply<delete_protection_group::Response> {
        reply(Ibm::delete_protection_group(self, request))
    }

    async fn get_protection_group_runs(
        &self,
        request: get_protection_group_runs::Request,
    ) -> Reply<get_protection_group_runs::Response> {
        reply(Ibm::get_protection_group_runs(self, request))
    }

    async fn update_protection_group_run(
        &self,
        request: update_protection_group_run::Request,
    ) -> Reply<update_protection_group_run::Response> {
        reply(Ibm::update_protection_group_run(self, request))
    }

    async fn create_protection_group_run(
        &self,
        request: create_protection_group_run::Request,
    ) -> Reply<create_protection_group_run::Response> {
        reply(Ibm::create_protection_group_run(self, request))
    }

    async fn perform_action_on_protection_group_run(
        &self,
        request: perform_action_on_protection_group_run::Request,
    ) -> Reply<perform_action_on_protection_group_run::Response> {
        reply(Ibm::perform_action_on_protection_group_run(self, request))
    }

    async fn get_recoveries(
        &self,
        request: get_recoveries::Request,
    ) -> Reply<get_recoveries::Response> {
        reply(Ibm::get_recoveries(self, request))
    }

    async fn create_recovery(
        &self,
        request: create_recovery::Request,
    ) -> Reply<create_recovery::Response> {
        reply(Ibm::create_recovery(self, request))
    }

    async fn create_download_files_and_folders_recovery(
        &self,
        request: create_download_files_and_folders_recovery::Request,
    ) -> Reply<create_download_files_and_folders_recovery::Response> {
        reply(Ibm::create_download_files_and_folders_recovery(
            self, request,
        ))
    }

    async fn get_recovery_by_id(
        &self,
        request: get_recovery_by_id::Request,
    ) -> Reply<get_recovery_by_id::Response> {
        reply(Ibm::get_recovery_by_id(self, request))
    }

    async fn download_files_from_recovery(
        &self,
        request: download_files_from_recovery::Request,
    ) -> Reply<download_files_from_recovery::Response> {
        reply(Ibm::download_files_from_recovery(self, request))
    }

    async fn get_restore_points_in_time_range(
        &self,
        request: get_restore_points_in_time_range::Request,
    ) -> Reply<get_restore_points_in_time_range::Response> {
        reply(Ibm::get_restore_points_in_time_range(self, request))
    }

    async fn download_indexed_file(
        &self,
        request: download_indexed_file::Request,
    ) -> Reply<download_indexed_file::Response> {
        reply(Ibm::download_indexed_file(self, request))
    }

    async fn search_indexed_objects(
        &self,
        request: search_indexed_objects::Request,
    ) -> Reply<search_indexed_objects::Response> {
        reply(Ibm::search_indexed_objects(self, request))
    }

    async fn search_objects(
        &self,
        request: search_objects::Request,
    ) -> Reply<search_objects::Response> {
        reply(Ibm::search_objects(self, request))
    }

    async fn search_protected_objects(
        &self,
        request: search_protected_objects::Request,
    ) -> Reply<search_protected_objects::Response> {
        reply(Ibm::search_protected_objects(self, request))
    }

    async fn get_source_registrations(
        &self,
        request: get_source_registrations::Request,
    ) -> Reply<get_source_registrations::Response> {
        reply(Ibm::get_source_registrations(self, request))
    }

    async fn register_protection_source(
        &self,
        request: register_protection_source::Request,
    ) -> Reply<register_protection_source::Response> {
        reply(Ibm::register_protection_source(self, request))
    }

    async fn get_protection_source_registration(
        &self,
        request: get_protection_source_registration::Request,
    ) -> Reply<get_protection_source_registration::Response> {
        reply(Ibm::get_protection_source_registration(self, request))
    }

    async fn update_protection_source_registration(
        &self,
        request: update_protection_source_registration::Request,
    ) -> Reply<update_protection_source_registration::Response> {
        reply(Ibm::update_protection_source_registration(self, request))
    }

    async fn delete_protection_source_registration(
        &self,
        request: delete_protection_source_registration::Request,
    ) -> Reply<delete_protection_source_registration::Response> {
        reply(Ibm::delete_protection_source_registration(self, request))
    }

    async fn patch_protection_source_registration(
        &self,
        request: patch_protection_source_registration::Request,
    ) -> Reply<patch_protection_source_registration::Response> {
        reply(Ibm::patch_protection_source_registration(self, request))
    }

    async fn refresh_protection_source_by_id(
        &self,
        request: refresh_protection_source_by_id::Request,
    ) -> Reply<refresh_protection_source_by_id::Response> {
        reply(Ibm::refresh_protection_source_by_id(self, request))
    }

    async fn get_data_source_connections(
        &self,
        request: get_data_source_connections::Request,
    ) -> Reply<get_data_source_connections::Response> {
        reply(Ibm::get_data_source_connections(self, request))
    }

    async fn create_data_source_connection(
        &self,
        request: create_data_source_connection::Request,
    ) -> Reply<create_data_source_connection::Response> {
        reply(Ibm::create_data_source_connection(self, request))
    }

    async fn delete_data_source_connection(
        &self,
        request: delete_data_source_connection::Request,
    ) -> Reply<delete_data_source_connection::Response> {
        reply(Ibm::delete_data_source_connection(self, request))
    }

    async fn patch_data_source_connection(
        &self,
        request: patch_data_source_connection::Request,
    ) -> Reply<patch_data_source_connection::Response> {
        reply(Ibm::patch_data_source_connection(self, request))
    }

    async fn generate_data_source_connection_registration_token(
        &self,
        request: generate_data_source_connection_registration_token::Request,
    ) -> Reply<generate_data_source_connection_registration_token::Response> {
        reply(Ibm::generate_data_source_connection_registration_token(
            self, request,
        ))
    }

    async fn get_data_source_connectors(
        &self,
        request: get_data_source_connectors::Request,
    ) -> Reply<get_data_source_connectors::Response> {
        reply(Ibm::get_data_source_connectors(self, request))
    }

    async fn get_connector_metadata(
        &self,
        request: get_connector_metadata::Request,
    ) -> Reply<get_connector_metadata::Response> {
        reply(Ibm::get_connector_metadata(self, request))
    }

    async fn delete_data_source_connector(
        &self,
        request: delete_data_source_connector::Request,
    ) -> Reply<delete_data_source_connector::Response> {
        reply(Ibm::delete_data_source_connector(self, request))
    }

    async fn patch_data_source_connector(
        &self,
        request: patch_data_source_connector::Request,
    ) -> Reply<patch_data_source_connector::Response> {
        reply(Ibm::patch_data_source_connector(self, request))
    }
}
